// `npm run sandbox`: runs the local Ppoppo sandbox until SIGINT/SIGTERM and prints how to point a
// client at it. The printed client secret is the sandbox's own test credential, not a real one.
// Exit codes: 0 stopped by a signal; 1 failed; 2 bad flag or variable; 3 a port is in use.
import { tuneHeapGrowth } from '../../src/heap-growth';
import { startSandbox } from '../../src/sandbox/server';
import { EXIT_PORT_IN_USE, portsTakenMessage } from '../ports';
import { sandboxOptionsFrom, USAGE } from './cli-options';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  tuneHeapGrowth();
  let options: ReturnType<typeof sandboxOptionsFrom>;
  try {
    options = sandboxOptionsFrom(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const taken = await portsTakenMessage([{ port: options.grpcPort ?? 0, flag: '--grpc-port N (or SANDBOX_GRPC_PORT)' }, { port: options.httpPort ?? 0, flag: '--http-port N (or SANDBOX_HTTP_PORT)' }], options.host);
  if (taken) {
    console.error(taken);
    process.exit(EXIT_PORT_IN_USE);
  }
  const sandbox = await startSandbox({ ...options, log: (line) => console.error(line) });
  console.log(`Ppoppo sandbox (local, test-only) — state in ${options.dbPath}
  gRPC  ${sandbox.grpcUrl}  (also under ${sandbox.grpcUrl}/ext)
  HTTP  ${sandbox.httpUrl}  (POST /oauth/token, GET /.well-known/jwks.json, /inspect/*)
  /inspect needs: Authorization: Bearer ${sandbox.inspectToken}  (set it with SANDBOX_INSPECT_TOKEN)

Point a client at it:
PCS_API_URL=${sandbox.grpcUrl}
PAS_TOKEN_URL=${sandbox.tokenUrl}
PAS_PCS_CLIENT_ID=${sandbox.clientId}
PAS_PCS_CLIENT_SECRET=${sandbox.clientSecret}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    sandbox.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`sandbox failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
