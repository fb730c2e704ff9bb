// Ports for the local stack are picked below the kernel's ephemeral range, where neither a port-0
// bind (the Temporal CLI's own services) nor an outgoing connection's local port can take one
// between our pick and the server's bind: CI once lost the demo's Web UI port that way.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, portInUse } from '../../dev/ports';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('freePort', () => {
  it('picks distinct ports below the ephemeral range, each one bindable', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(200);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLow);
    }
    expect(await portInUse(ports[0]!)).toBe(false);
  });

  it('never hands out a port something listens on', async () => {
    // Occupy 300 ports of the range; none of the next 100 picks may be one of them.
    const servers = await Promise.all(
      Array.from({ length: 300 }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
        const server = createServer();
        server.once('error', () => resolve(server));
        server.listen(10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000)), '127.0.0.1', () => resolve(server));
      })),
    );
    const taken = new Set(servers.filter((s) => s.listening).map((s) => (s.address() as { port: number }).port));
    try {
      for (let i = 0; i < 100; i++) expect(taken.has(await freePort())).toBe(false);
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? s.close(r) : r(undefined)))));
    }
  });
});
