// `npm run sandbox`: runs the local Ppoppo sandbox until SIGINT/SIGTERM and prints how to point a
// client at it. The printed client secret is the sandbox's own test credential, not a real one.
import { sandboxOptionsFrom, USAGE } from './cli-options';
import { startSandbox } from './server';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const options = sandboxOptionsFrom(process.argv.slice(2), process.env);
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
  console.error(err instanceof Error ? err.message : err);
  console.error(USAGE);
  process.exit(1);
});
