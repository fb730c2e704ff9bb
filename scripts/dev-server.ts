// `npm run temporal:dev` — a local Temporal dev server with our search attributes, state kept in
// .data/temporal.db across runs. Flags: --port 7233 --ui-port 8233 --headless --db-file PATH
// --dynamic-config key=value (repeatable; value is JSON, e.g. 200 or true or '"text"').
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startDevServer } from '../src/temporal/dev-server';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7233' },
    'ui-port': { type: 'string', default: '8233' },
    headless: { type: 'boolean', default: false },
    'db-file': { type: 'string', default: '.data/temporal.db' },
    'dynamic-config': { type: 'string', multiple: true, default: [] },
  },
});

const dynamicConfig: Record<string, string | number | boolean> = {};
for (const pair of values['dynamic-config']) {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`--dynamic-config expects key=value, got ${pair}`);
  dynamicConfig[pair.slice(0, at)] = JSON.parse(pair.slice(at + 1)) as string | number | boolean;
}

const dbFile = values['db-file'];
mkdirSync(dirname(dbFile), { recursive: true });
const server = await startDevServer({
  dbFile,
  port: Number(values.port),
  uiPort: values.headless ? undefined : Number(values['ui-port']),
  dynamicConfig,
  logLevel: 'warn',
});

console.info(`Temporal dev server ready: TEMPORAL_ADDRESS=${server.address}`);
if (server.uiUrl) console.info(`Web UI: ${server.uiUrl}`);
console.info(`State: ${dbFile} (Ctrl-C to stop)`);

const shutdown = () => {
  server.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
