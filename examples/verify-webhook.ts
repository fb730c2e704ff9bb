// Example: a receiver for fallback webhooks that trusts only what we sent, once.
//
//   WEBHOOK_SECRET=whsec_... npx tsx examples/verify-webhook.ts [port]      (default port 9000; 0 = any free one)
//
// For each POST it (1) verifies `webhook-signature` over "<webhook-id>.<webhook-timestamp>.<raw body>"
// with the shared secret (the worker's FALLBACK_SECRET_WEBHOOK, or the channel's secretEnv), (2)
// refuses a `webhook-timestamp` more than 5 minutes off (an old delivery replayed; a rewritten
// timestamp breaks the signature), and (3) processes each `webhook-id` once: a retry or a replay of
// a delivery it already has is acknowledged (2xx, so the sender stops) but not processed again.
// Answers 401 with the reason to anything it refuses. Prints one line per request.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { DEFAULT_TOLERANCE_SECONDS, verifyWebhook } from '../src/webhooks/signature';

export interface VerifyingReceiver {
  url: string;
  /** Bodies of the deliveries processed, in order (each webhook-id once). */
  processed: unknown[];
  close(): Promise<void>;
}

export async function startVerifyingReceiver(options: { secret: string; port?: number; log?: (line: string) => void }): Promise<VerifyingReceiver> {
  const log = options.log ?? ((line: string) => console.log(line));
  const processed: unknown[] = [];
  const seen = new Map<string, number>(); // webhook-id → when it was processed (ms)

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8'); // verify the raw bytes, not re-serialized JSON
      const verdict = verifyWebhook({ headers: req.headers, body, secret: options.secret });
      if (!verdict.ok) {
        log(`refused: ${verdict.reason}`);
        return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: verdict.reason }));
      }
      // Ids only need remembering while their timestamps are still accepted.
      for (const [id, at] of seen) if (Date.now() - at > 2 * DEFAULT_TOLERANCE_SECONDS * 1000) seen.delete(id);
      if (seen.has(verdict.id)) {
        log(`duplicate ${verdict.id}: already processed`);
        return void res.writeHead(200).end('duplicate');
      }
      seen.set(verdict.id, Date.now());
      const delivery = JSON.parse(body) as { outcome?: string };
      processed.push(delivery);
      log(`accepted ${verdict.id} (${delivery.outcome})`);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 9000, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, processed, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error('set WEBHOOK_SECRET to the secret the worker signs with (its FALLBACK_SECRET_WEBHOOK)');
    process.exit(2);
  }
  const receiver = await startVerifyingReceiver({ secret, port: Number(process.argv[2] ?? 9000) });
  console.log(`verifying webhooks on ${receiver.url} - Ctrl-C to stop`);
}
