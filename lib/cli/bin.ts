#!/usr/bin/env node
// Executable entry of the `tokenward` CLI (package bin): runs main() on the process's argv and io.
import { main } from './main';

// `tokenward … | head` closes the pipe early: stop quietly instead of reporting EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdin: process.stdin,
}).then((code) => {
  process.exitCode = code;
});
