import { ProtocolError } from './errors.js';
import { isPlainObject, type JsonValue } from './json.js';

/**
 * A tiny field-spec language: one declaration per message gives both its TypeScript
 * type (`Infer`) and its validating reader. Unknown fields are ignored (newer SDKs
 * send fields this server does not know); known fields of the wrong type are rejected.
 */
export interface Field<T, Optional extends boolean = boolean> {
  readonly optional: Optional;
  /** Value used when a required field is absent, as protobuf's JSON reader does. */
  readonly fallback: T | undefined;
  /** Only embedded JSON keeps `null`; elsewhere `null` means absent, as in protobuf JSON. */
  readonly keepsNull: boolean;
  read(value: unknown, path: string): T;
}

export type Spec = Readonly<Record<string, Field<unknown>>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ValueOf<F> = F extends Field<infer T> ? T : never;
type RequiredKeys<S extends Spec> = { [K in keyof S]: S[K] extends Field<unknown, false> ? K : never }[keyof S];
type OptionalKeys<S extends Spec> = Exclude<keyof S, RequiredKeys<S>>;

export type Infer<S extends Spec> = Simplify<
  { [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> }
>;

function field<T>(read: (value: unknown, path: string) => T, fallback?: T, keepsNull = false): Field<T, false> {
  return { optional: false, fallback, keepsNull, read };
}

export function optional<T>(f: Field<T>): Field<T, true> {
  return { ...f, optional: true, fallback: undefined };
}

function fail(path: string, expected: string): never {
  throw new ProtocolError(path, `expected ${expected}`);
}

export const string = (): Field<string, false> =>
  field((v, path) => (typeof v === 'string' ? v : fail(path, 'a string')), '');

export const boolean = (): Field<boolean, false> =>
  field((v, path) => (typeof v === 'boolean' ? v : fail(path, 'a boolean')), false);

/** Non-negative safe integer (offsets, ids, TTLs, counters). */
export const uint = (): Field<number, false> =>
  field((v, path) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(path, 'a non-negative integer')), 0);

export const int = (): Field<number, false> =>
  field((v, path) => (Number.isSafeInteger(v) ? (v as number) : fail(path, 'an integer')));

/** Embedded application JSON (`data`, `info`): any value, passed through untouched. */
export const json = (): Field<JsonValue, false> => field((v) => v as JsonValue, undefined, true);

export const object = <S extends Spec>(spec: S): Field<Infer<S>, false> => field((v, path) => readObject(spec, v, path));

export const list = <T>(item: Field<T>): Field<T[], false> =>
  field((v, path) => (Array.isArray(v) ? v.map((x, i) => item.read(x, `${path}[${i}]`)) : fail(path, 'an array')), []);

/** A map with arbitrary keys (channels, client ids, tags). */
export const record = <T>(item: Field<T>): Field<Record<string, T>, false> =>
  field((v, path) => {
    if (!isPlainObject(v)) fail(path, 'an object');
    const out: Record<string, T> = {};
    for (const key of Object.keys(v)) {
      // defineProperty: a key such as "__proto__" stays an ordinary entry.
      Object.defineProperty(out, key, { value: item.read(v[key], `${path}.${key}`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }, {});

export function readObject<S extends Spec>(spec: S, value: unknown, path: string): Infer<S> {
  if (!isPlainObject(value)) fail(path, 'an object');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(spec)) {
    const f = spec[key] as Field<unknown>;
    const v = Object.hasOwn(value, key) ? value[key] : undefined;
    if (v === undefined || (v === null && !f.keepsNull)) {
      if (f.optional) continue;
      if (f.fallback === undefined) fail(`${path}.${key}`, 'a value');
      out[key] = f.fallback;
    } else {
      out[key] = f.read(v, `${path}.${key}`);
    }
  }
  return out as Infer<S>;
}
