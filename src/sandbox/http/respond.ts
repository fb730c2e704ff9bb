// Small HTTP helpers: JSON answers, request bodies, and streaming long lists page by page
// (JSON `{"<key>":[…]}` or NDJSON) without holding them in memory.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

export async function readBody(req: IncomingMessage, maxBytes = 1 << 20): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes, waiting for the socket to drain when its buffer is full; false once the client left. */
async function write(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(text)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
  return !res.destroyed;
}

/**
 * Streams the items of successive pages. `nextPage` is called until it returns an empty page;
 * each page is a fresh query, so no database cursor stays open across awaits.
 */
export async function streamList<T>(res: ServerResponse, format: 'json' | 'ndjson', key: string, nextPage: () => T[]): Promise<void> {
  res.writeHead(200, { 'content-type': format === 'ndjson' ? 'application/x-ndjson' : 'application/json', 'cache-control': 'no-store' });
  let first = true;
  if (format === 'json' && !(await write(res, `{"${key}":[`))) return;
  for (let page = nextPage(); page.length > 0; page = nextPage()) {
    const text = page.map((item) => {
      const json = JSON.stringify(item);
      if (format === 'ndjson') return `${json}\n`;
      const out = first ? json : `,${json}`;
      first = false;
      return out;
    }).join('');
    if (!(await write(res, text))) return;
  }
  res.end(format === 'json' ? ']}' : undefined);
}
