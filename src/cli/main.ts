// The campaign CLI: `npm run campaign -- <command> [args] [flags]`. Run with no arguments for help.
// Exit codes: 0 ok, 1 campaign or validation failure, 2 usage error, 3 not found, 4 cannot connect,
// 5 already running (nothing started), 6 already finished (nothing started or changed).
// The process entry: the commands themselves are src/cli/program.ts (main), which tests also run in process.
import { loadDotEnv } from '../dotenv';
import { EXIT } from './errors';
import { main } from './program';

// `report | head` closes the pipe early: that is the reader's choice, not an error to print.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
try {
  loadDotEnv();
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`configuration: ${(err as Error).message}`);
  process.exitCode = EXIT.usage;
}
