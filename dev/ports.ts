// Loopback ports for the local stack: a free one picked by the OS, or whether a fixed one is taken.
import { createServer } from 'node:net';

const HOST = '127.0.0.1';

/** A port that was free a moment ago (the OS picks it; we release it for the server). */
export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when something already listens on `port` (binding it fails with EADDRINUSE). */
export function portInUse(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}

/** Exit code of our dev processes when a port they must use is taken. */
export const EXIT_PORT_IN_USE = 3;

/**
 * One line for the first of `wanted` that something already listens on (port 0 = any, never taken),
 * naming the port and the flag that picks another; undefined when all are free.
 */
export async function portsTakenMessage(wanted: { port: number; flag: string }[], host = HOST): Promise<string | undefined> {
  for (const { port, flag } of wanted) {
    if (port !== 0 && (await portInUse(port, host))) return `port ${port} is in use: stop what listens there, or choose another port with ${flag}`;
  }
  return undefined;
}
