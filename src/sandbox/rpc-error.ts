// A gRPC status the sandbox answers with, optionally carrying `retry-after-ms`.
import { Metadata, status } from '@grpc/grpc-js';

export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** `retry-after-ms` as metadata (sent both as initial headers and as trailers). */
  metadata(): Metadata {
    const metadata = new Metadata();
    if (this.retryAfterMs !== undefined) metadata.set('retry-after-ms', String(Math.max(0, Math.round(this.retryAfterMs))));
    return metadata;
  }
}

export const invalid = (message: string) => new RpcError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
