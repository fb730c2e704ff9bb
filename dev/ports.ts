// Loopback ports for the local stack: a free one we pick, or whether a fixed one is taken.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const HOST = '127.0.0.1';

/** Lowest port we pick from; the range ends below the kernel's ephemeral range. */
const PICK_FLOOR = 10_000;

/**
 * The low end of the kernel's ephemeral range, which it hands out for port-0 binds (the Temporal CLI
 * picks its own service ports that way) and for every outgoing connection's local port. A port
 * picked there can be taken by any of those between our pick and the server's bind, so we pick below it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low)) return low;
  } catch {
    // Not Linux: fall through to the range Linux uses by default.
  }
  return 32_768;
}

/** Ports this process handed out, so two picks in one process never collide. */
const handedOut = new Set<number>();

/** Binds `port` (0: any) and releases it: the port bound, or undefined when something listens there. */
function bindable(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    server.listen(port, host, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port that was free a moment ago, released for the server to bind. Picked at random below the
 * ephemeral range (see `ephemeralLow`); where that leaves too few ports, the OS picks.
 */
export async function freePort(host = HOST): Promise<number> {
  const low = ephemeralLow();
  if (low - PICK_FLOOR >= 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const candidate = PICK_FLOOR + Math.floor(Math.random() * (low - PICK_FLOOR));
      if (handedOut.has(candidate)) continue;
      const port = await bindable(candidate, host);
      if (port !== undefined) {
        handedOut.add(port);
        return port;
      }
    }
  }
  const port = await bindable(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}

/** True when something already listens on `port` (binding it fails with EADDRINUSE). */
export async function portInUse(port: number, host = HOST): Promise<boolean> {
  return (await bindable(port, host)) === undefined;
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
