// The stack's own client connection, closed only once no call is in flight. Temporal's retry
// interceptor retries an UNAVAILABLE call on a timer; a connection closed under it (the stack
// stopping while a call waits for its next try) makes that timer throw "Channel has been shut
// down" outside any promise, which ends the process. So: no retries once stopping, and close after
// the last call has ended.
import { InterceptingCall, ListenerBuilder, RequesterBuilder, type Interceptor } from '@grpc/grpc-js';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long close() waits for calls in flight (each ends at once: nothing is retried while stopping). */
const DRAIN_TIMEOUT_MS = 10_000;

export async function connectDrained(address: string): Promise<{ connection: Connection; close: () => Promise<void> }> {
  let stopping = false;
  let inFlight = 0;
  const retry = defaultGrpcRetryOptions();
  // Outermost, so it sees each call's final status, after the retries.
  const counting: Interceptor = (options, nextCall) =>
    new InterceptingCall(
      nextCall(options),
      new RequesterBuilder()
        .withStart((metadata, _listener, next) => {
          inFlight += 1;
          // A partial listener: grpc-js passes everything else through to the caller's.
          const counted = new ListenerBuilder()
            .withOnReceiveStatus((status, nextStatus) => {
              inFlight -= 1;
              nextStatus(status);
            })
            .build();
          next(metadata, counted);
        })
        .build(),
    );
  const retrying = makeGrpcRetryInterceptor({ ...retry, retryableDecider: (attempt, status) => !stopping && retry.retryableDecider(attempt, status) });
  const connection = await Connection.connect({ address, interceptors: [counting, retrying] });
  const close = async () => {
    stopping = true;
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (inFlight > 0 && Date.now() < deadline) await sleep(50);
    await connection.close();
  };
  return { connection, close };
}
