import { unenforcedOptions } from '../config/namespace.js';
import { type Config, namespaceDefaults, type NamespaceOptions } from '../config/schema.js';

/**
 * Resolves a channel's namespace to its effective options: built-in defaults, then
 * `channel.defaults`, then the namespace's own keys. Unknown namespaces resolve to
 * undefined (error 102).
 */
export class Namespaces {
  private readonly resolved = new Map<string, NamespaceOptions>();

  constructor(channel: Config['channel']) {
    const base: NamespaceOptions = { ...namespaceDefaults, ...channel.defaults };
    this.resolved.set('', base);
    for (const [name, own] of Object.entries(channel.namespaces)) {
      this.resolved.set(name, { ...base, ...own } as NamespaceOptions);
    }
  }

  get(namespace: string): NamespaceOptions | undefined {
    return this.resolved.get(namespace);
  }

  /** `namespace.option` pairs set away from their default although not enforced yet. */
  unenforced(): string[] {
    const out: string[] = [];
    for (const [name, options] of this.resolved) {
      for (const key of unenforcedOptions) if (options[key] !== namespaceDefaults[key]) out.push(`${name || '(defaults)'}.${key}`);
    }
    return out;
  }
}
