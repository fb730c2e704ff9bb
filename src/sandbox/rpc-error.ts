// A gRPC status the sandbox answers with, optionally carrying a retry hint: `retry-after-ms`
// (milliseconds, what Ppoppo documents) and `retry-after` (whole seconds, rounded up: what clients
// that read only the HTTP-style header, like the official Rust client, look for).
import { Metadata, status } from '@grpc/grpc-js';

export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** The retry hint as metadata (sent both as initial headers and as trailers). */
  metadata(): Metadata {
    const metadata = new Metadata();
    if (this.retryAfterMs !== undefined) {
      const ms = Math.max(0, Math.round(this.retryAfterMs));
      metadata.set('retry-after-ms', String(ms));
      metadata.set('retry-after', String(Math.ceil(ms / 1000)));
    }
    return metadata;
  }
}

export const invalid = (message: string) => new RpcError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
