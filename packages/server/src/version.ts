import { createRequire } from 'node:module';

/** This package's version, reported to clients in the connect reply and in /api/info. */
export const version: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
