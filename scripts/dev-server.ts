// `npm run temporal:dev` — a local Temporal dev server with our search attributes, state kept in
// .data/temporal.db across runs (dev/temporal/dev-server.ts does the work).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT_PORT_IN_USE, portsTakenMessage } from '../dev/ports';
import { startDevServer } from '../dev/temporal/dev-server';

const USAGE = `usage: npm run temporal:dev -- [--port 7233] [--ui-port 8233] [--headless] [--db-file .data/temporal.db]
                               [--dynamic-config key=value ...]
  --port N                 frontend gRPC port (TEMPORAL_ADDRESS=127.0.0.1:N)
  --ui-port N              Web UI port
  --headless               no Web UI
  --db-file PATH           SQLite state, kept across runs
  --dynamic-config k=v     Temporal dynamic config (repeatable; the value is JSON: 200, true, '"text"')
Exit codes: 0 stopped with Ctrl-C; 1 the server failed; 2 bad flag; 3 a port is in use.`;

const EXIT = { failure: 1, usage: 2 } as const;

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
        port: { type: 'string', default: '7233' },
        'ui-port': { type: 'string', default: '8233' },
        headless: { type: 'boolean', default: false },
        'db-file': { type: 'string', default: '.data/temporal.db' },
        'dynamic-config': { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', default: false },
      },
    });
    const port = Number(values.port);
    const uiPort = Number(values['ui-port']);
    for (const [flag, value] of [['--port', port], ['--ui-port', uiPort]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`${flag} must be a port number from 1 to 65535`);
    }
    const dynamicConfig: Record<string, string | number | boolean> = {};
    for (const pair of values['dynamic-config']) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--dynamic-config expects key=value, got "${pair}"`);
      try {
        dynamicConfig[pair.slice(0, at)] = JSON.parse(pair.slice(at + 1)) as string | number | boolean;
      } catch {
        throw new Error(`--dynamic-config ${pair}: the value must be JSON (200, true or '"text"')`);
      }
    }
    return { ...values, port, uiPort, dynamicConfig };
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`, EXIT.usage);
  }
}

const flags = parseFlags();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const taken = await portsTakenMessage([{ port: flags.port, flag: '--port N' }, ...(flags.headless ? [] : [{ port: flags.uiPort, flag: '--ui-port N' }])]);
if (taken) fail(taken, EXIT_PORT_IN_USE);

const dbFile = flags['db-file'];
mkdirSync(dirname(dbFile), { recursive: true });
const server = await startDevServer({
  dbFile,
  port: flags.port,
  uiPort: flags.headless ? undefined : flags.uiPort,
  dynamicConfig: flags.dynamicConfig,
  logLevel: 'warn',
}).catch((err: unknown) => fail(`the Temporal dev server did not start: ${(err as Error).message}`, EXIT.failure));

console.info(`Temporal dev server ready: TEMPORAL_ADDRESS=${server.address}`);
if (server.uiUrl) console.info(`Web UI: ${server.uiUrl}`);
console.info(`State: ${dbFile} (Ctrl-C to stop)`);

const shutdown = () => {
  server.stop().then(() => process.exit(0), () => process.exit(EXIT.failure));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
