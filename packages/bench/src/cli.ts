#!/usr/bin/env node
import { runBench } from './run.js';

/** `node packages/bench/dist/cli.js <scenario> [flags]` (root: `npm run bench -- …`). */
runBench(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
