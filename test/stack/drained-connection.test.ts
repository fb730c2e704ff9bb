// The stack's client connection closes cleanly under a call that is still being retried: the call
// ends with its error, and no retry timer fires on the closed channel afterwards (that throws
// outside any promise and ends the process: bench and chaos drivers run several stacks in one).
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDrained } from '../../dev/stack/drained-connection';

const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService';
const server = new grpc.Server();
let port = 0;
let describeCalls = 0;

beforeAll(async () => {
  const raw = (bytes: Buffer) => bytes;
  // Answers the client's connect probe (an empty GetSystemInfoResponse), and nothing else.
  server.register(`${SERVICE}/GetSystemInfo`, (_call: unknown, done: grpc.sendUnaryData<Buffer>) => done(null, Buffer.alloc(0)), raw, raw, 'unary');
  server.register(
    `${SERVICE}/DescribeNamespace`,
    (_call: unknown, done: grpc.sendUnaryData<Buffer>) => {
      describeCalls += 1;
      done({ code: grpc.status.UNAVAILABLE, details: 'down for the test' });
    },
    raw,
    raw,
    'unary',
  );
  port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
});
afterAll(() => server.forceShutdown());

describe('connectDrained', () => {
  it('stops retrying when closed: the retried call fails with its UNAVAILABLE, and no retry runs after the close', async () => {
    const { connection, close } = await connectDrained(`127.0.0.1:${port}`);
    const call = connection.workflowService.describeNamespace({ namespace: 'default' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    while (describeCalls < 2) await sleep(10); // failed once, being retried
    await close();
    expect(await call).toMatchObject({ code: grpc.status.UNAVAILABLE });
    const triesAtClose = describeCalls;
    await sleep(2_000); // the default policy would try up to 10 times, seconds apart
    expect(describeCalls).toBe(triesAtClose);
    expect(triesAtClose).toBeLessThan(10);
  });
});
