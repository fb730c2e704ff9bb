// Ppoppo API errors: one class per gRPC status of the API's error table, each saying whether the
// call may be retried as is.
//
//   'unsafe'    the server refused and will refuse again (bad input, missing rights, not found, a
//               request larger than its message size limit): fix something first. Nothing was accepted.
//   'safe'      nothing was accepted and a later retry may work: RESOURCE_EXHAUSTED (wait
//               `retryAfterMs`), UNAVAILABLE sent by the server, UNAVAILABLE before any connection.
//   'ambiguous' the request may have been accepted: DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, CANCELLED,
//               DATA_LOSS, and a connection lost after the request was written. For
//               CreateSendRequest (no idempotency key) reconcile before sending again.
//
// Telling grpc-js's own UNAVAILABLE apart from the server's: grpc-js synthesizes statuses with
// fixed `details` texts. "No connection established…" (picker: no transport was ever ready),
// "Stream refused by server" (HTTP/2 REFUSED_STREAM: the server did not process the stream) and
// name-resolution failures mean the request was never handed to the server -> 'safe'.
// "Connection dropped", ECONNRESET/ETIMEDOUT texts and "Received HTTP status code …" (a proxy
// answered) mean the request may have reached the server -> 'ambiguous'. Any other UNAVAILABLE
// carries the server's own message (it came in trailers) -> 'safe'.
import type { Metadata, ServiceError } from '@grpc/grpc-js';
import type { ValidationIssue } from './validation';

export type RetryClass = 'safe' | 'unsafe' | 'ambiguous';

/** gRPC status codes by name (same numbers as grpc.status, without importing grpc here). */
export const GRPC_CODES = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCodeName = keyof typeof GRPC_CODES;

const CODE_NAMES = new Map<number, GrpcCodeName>(Object.entries(GRPC_CODES).map(([name, code]) => [code, name as GrpcCodeName]));

export function codeName(code: number): string {
  return CODE_NAMES.get(code) ?? `CODE_${code}`;
}

export interface PpoppoApiErrorInit {
  grpcCode: number;
  /** The server's status message (scrubbed), or grpc-js's text for client-side statuses. */
  details: string;
  /** RPC name, e.g. 'CreateSendRequest'. */
  method: string;
  retry?: RetryClass;
  retryAfterMs?: number;
}

export class PpoppoApiError extends Error {
  readonly grpcCode: number;
  readonly codeName: string;
  readonly retry: RetryClass;
  readonly retryAfterMs?: number;
  readonly method: string;
  readonly details: string;

  constructor(init: PpoppoApiErrorInit) {
    const name = codeName(init.grpcCode);
    const details = scrubSecrets(init.details);
    super(`${init.method}: ${name}: ${details}`);
    this.name = new.target.name;
    this.grpcCode = init.grpcCode;
    this.codeName = name;
    this.details = details;
    this.method = init.method;
    this.retry = init.retry ?? classifyRetry(init.grpcCode, details);
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }
}

export class UnauthenticatedError extends PpoppoApiError {}
export class PermissionDeniedError extends PpoppoApiError {}
export class NotFoundError extends PpoppoApiError {}
export class InvalidArgumentError extends PpoppoApiError {}
export class FailedPreconditionError extends PpoppoApiError {}
export class AlreadyExistsError extends PpoppoApiError {}
export class UnavailableError extends PpoppoApiError {}
export class InternalError extends PpoppoApiError {}
export class DeadlineExceededError extends PpoppoApiError {}
/** Any status outside the API's error table (CANCELLED, UNKNOWN, UNIMPLEMENTED, …). */
export class OtherApiError extends PpoppoApiError {}

/**
 * Rate limit or monthly quota. `isQuota`: the monthly quota is used up (park, do not spin).
 * `isTooLarge`: the request is over the server's message size limit (a rejection, retry class 'unsafe').
 */
export class ResourceExhaustedError extends PpoppoApiError {
  readonly isQuota: boolean;
  readonly isTooLarge: boolean;
  constructor(init: PpoppoApiErrorInit) {
    super(init);
    this.isQuota = /quota/i.test(init.details);
    this.isTooLarge = MESSAGE_TOO_LARGE.some((pattern) => pattern.test(init.details));
  }
}

/**
 * The call never reached the API host: no connection could be made, or its name does not resolve.
 * A fault of the set-up (address, network), not of the request.
 */
export function isUnreachable(err: PpoppoApiError): boolean {
  return err.codeName === 'UNAVAILABLE' && UNREACHABLE.some((pattern) => pattern.test(err.details));
}

/** Input refused by local validation before any network call: nothing was sent. */
export class LocalValidationError extends InvalidArgumentError {
  readonly issues: ValidationIssue[];
  constructor(method: string, what: string, issues: ValidationIssue[]) {
    const shown = issues.slice(0, 5).map((issue) => (issue.index !== undefined ? `[${issue.index}] ` : '') + `${issue.field}: ${issue.message}`);
    const more = issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '';
    super({ grpcCode: GRPC_CODES.INVALID_ARGUMENT, method, retry: 'unsafe', details: `${what} (checked locally, nothing sent): ${shown.join('; ')}${more}` });
    this.issues = issues;
  }
}

export class InvalidRecipientsError extends LocalValidationError {
  constructor(method: string, issues: ValidationIssue[]) {
    super(method, 'invalid recipients', issues);
  }
}

export class InvalidTemplateError extends LocalValidationError {
  constructor(method: string, issues: ValidationIssue[]) {
    super(method, 'invalid template', issues);
  }
}

const CLASS_BY_CODE: Record<number, new (init: PpoppoApiErrorInit) => PpoppoApiError> = {
  [GRPC_CODES.UNAUTHENTICATED]: UnauthenticatedError,
  [GRPC_CODES.PERMISSION_DENIED]: PermissionDeniedError,
  [GRPC_CODES.NOT_FOUND]: NotFoundError,
  [GRPC_CODES.INVALID_ARGUMENT]: InvalidArgumentError,
  [GRPC_CODES.RESOURCE_EXHAUSTED]: ResourceExhaustedError,
  [GRPC_CODES.FAILED_PRECONDITION]: FailedPreconditionError,
  [GRPC_CODES.ALREADY_EXISTS]: AlreadyExistsError,
  [GRPC_CODES.UNAVAILABLE]: UnavailableError,
  [GRPC_CODES.INTERNAL]: InternalError,
  [GRPC_CODES.DEADLINE_EXCEEDED]: DeadlineExceededError,
};

/** grpc-js texts for UNAVAILABLE raised before the request could reach the server. */
const UNREACHABLE = [/No connection established/i, /Name resolution failed/i, /DNS resolution failed/i];
const NEVER_SENT = [...UNREACHABLE, /Stream refused by server/i];
/** grpc-js texts for a transport failure after the request may have been written. */
const MAYBE_SENT = [/Connection dropped/i, /ECONNRESET/i, /ETIMEDOUT/i, /socket hang up/i, /Received HTTP status code/i, /Received RST_STREAM/i];
/**
 * RESOURCE_EXHAUSTED for a message over a gRPC size limit (4 MB by default): the server refused our
 * request before processing it (our responses are small), so it is a rejection, never a rate limit.
 */
const MESSAGE_TOO_LARGE = [/Received message larger than max/i, /Sent message larger than max/i];
/** grpc-js's HTTP/2 flow-control text: the call may have been processed. */
const LOCAL_RESOURCE = [/Bandwidth exhausted/i];

/** Whether a failed call may be retried as is; see the header comment. */
export function classifyRetry(code: number, details: string): RetryClass {
  switch (code) {
    case GRPC_CODES.UNAVAILABLE:
      if (NEVER_SENT.some((pattern) => pattern.test(details))) return 'safe';
      if (MAYBE_SENT.some((pattern) => pattern.test(details))) return 'ambiguous';
      return 'safe';
    case GRPC_CODES.RESOURCE_EXHAUSTED:
      if (MESSAGE_TOO_LARGE.some((pattern) => pattern.test(details))) return 'unsafe';
      return LOCAL_RESOURCE.some((pattern) => pattern.test(details)) ? 'ambiguous' : 'safe';
    case GRPC_CODES.DEADLINE_EXCEEDED:
    case GRPC_CODES.INTERNAL:
    case GRPC_CODES.UNKNOWN:
    case GRPC_CODES.CANCELLED:
    case GRPC_CODES.DATA_LOSS:
      return 'ambiguous';
    default:
      return 'unsafe';
  }
}

/**
 * Any failure of an RPC as a PpoppoApiError. `headers` are the response headers, if any arrived:
 * the retry hint is read from the trailers (the error's metadata) first, then from them.
 * A non-gRPC error (e.g. a bug while decoding) becomes UNKNOWN and 'ambiguous'.
 */
export function toPpoppoError(err: unknown, method: string, headers?: Metadata): PpoppoApiError {
  if (err instanceof PpoppoApiError) return err;
  if (!isServiceError(err)) {
    const text = err instanceof Error ? err.message : String(err);
    return new OtherApiError({ grpcCode: GRPC_CODES.UNKNOWN, method, details: `client error: ${text}`, retry: 'ambiguous' });
  }
  const init: PpoppoApiErrorInit = { grpcCode: err.code, method, details: err.details ?? '' };
  const retryAfterMs = readRetryAfterMs(err.metadata, headers);
  if (retryAfterMs !== undefined) init.retryAfterMs = retryAfterMs;
  const ErrorClass = CLASS_BY_CODE[err.code] ?? OtherApiError;
  return new ErrorClass(init);
}

/**
 * The retry hint in milliseconds from the first metadata that has it (trailers, then headers):
 * `retry-after-ms` (what Ppoppo documents) if any source has it well-formed, else `retry-after` in
 * whole seconds (what HTTP-style servers and proxies send), else undefined.
 */
export function readRetryAfterMs(...sources: Array<Metadata | undefined>): number | undefined {
  for (const metadata of sources) {
    const ms = wholeNumber(metadata, 'retry-after-ms');
    if (ms !== undefined) return ms;
  }
  for (const metadata of sources) {
    const seconds = wholeNumber(metadata, 'retry-after');
    if (seconds !== undefined) return seconds * 1000;
  }
  return undefined;
}

function wholeNumber(metadata: Metadata | undefined, key: string): number | undefined {
  const value = metadata?.get?.(key)[0];
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value.toString('utf8');
  return /^\s*\d+\s*$/.test(text) ? Number(text) : undefined;
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}

/** Removes bearer tokens, JWTs and secret-looking form fields from a message. */
export function scrubSecrets(message: string): string {
  return message
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [redacted]')
    .replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]')
    .replace(/(client_secret|access_token|password)=([^&\s]+)/gi, '$1=[redacted]');
}
