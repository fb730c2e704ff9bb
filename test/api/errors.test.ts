import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  InvalidRecipientsError,
  NotFoundError,
  OtherApiError,
  PermissionDeniedError,
  PpoppoApiError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  classifyRetry,
  toPpoppoError,
} from '../../src/api/errors';

function serviceError(code: number, details: string, trailers: Record<string, string> = {}): ServiceError {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

describe('toPpoppoError', () => {
  it.each([
    [status.UNAUTHENTICATED, UnauthenticatedError, 'unsafe'],
    [status.PERMISSION_DENIED, PermissionDeniedError, 'unsafe'],
    [status.NOT_FOUND, NotFoundError, 'unsafe'],
    [status.INVALID_ARGUMENT, InvalidArgumentError, 'unsafe'],
    [status.FAILED_PRECONDITION, FailedPreconditionError, 'unsafe'],
    [status.ALREADY_EXISTS, AlreadyExistsError, 'unsafe'],
    [status.RESOURCE_EXHAUSTED, ResourceExhaustedError, 'safe'],
    [status.UNAVAILABLE, UnavailableError, 'safe'],
    [status.INTERNAL, InternalError, 'ambiguous'],
    [status.DEADLINE_EXCEEDED, DeadlineExceededError, 'ambiguous'],
    [status.UNKNOWN, OtherApiError, 'ambiguous'],
    [status.CANCELLED, OtherApiError, 'ambiguous'],
    [status.UNIMPLEMENTED, OtherApiError, 'unsafe'],
  ] as const)('maps code %i to %o, retry %s', (code, ErrorClass, retry) => {
    const err = toPpoppoError(serviceError(code, 'server says no'), 'CreateSendRequest');
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err).toBeInstanceOf(PpoppoApiError);
    expect(err.grpcCode).toBe(code);
    expect(err.codeName).toBe(status[code]);
    expect(err.retry).toBe(retry);
    expect(err.method).toBe('CreateSendRequest');
    expect(err.message).toBe(`CreateSendRequest: ${status[code]}: server says no`);
  });

  it('reads retry-after-ms from trailers first, then headers', () => {
    const headers = new Metadata();
    headers.set('retry-after-ms', '900');
    const fromTrailers = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded', { 'retry-after-ms': '1500' }), 'M', headers);
    expect(fromTrailers.retryAfterMs).toBe(1500);
    const fromHeaders = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded'), 'M', headers);
    expect(fromHeaders.retryAfterMs).toBe(900);
    const malformed = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'x', { 'retry-after-ms': 'soon' }), 'M');
    expect(malformed.retryAfterMs).toBeUndefined();
  });

  it('falls back to retry-after (whole seconds) when no retry-after-ms is there, preferring retry-after-ms anywhere', () => {
    const seconds = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded', { 'retry-after': '3' }), 'M');
    expect(seconds.retryAfterMs).toBe(3000);
    const headers = new Metadata();
    headers.set('retry-after-ms', '250');
    const both = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded', { 'retry-after': '1' }), 'M', headers);
    expect(both.retryAfterMs).toBe(250);
    const badSeconds = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'x', { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }), 'M');
    expect(badSeconds.retryAfterMs).toBeUndefined();
  });

  it('tells a monthly quota from a rate limit', () => {
    const quota = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'monthly quota exceeded'), 'M') as ResourceExhaustedError;
    const rate = toPpoppoError(serviceError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded'), 'M') as ResourceExhaustedError;
    expect(quota.isQuota).toBe(true);
    expect(rate.isQuota).toBe(false);
  });

  it('classifies UNAVAILABLE by where it happened', () => {
    // grpc-js texts: no transport ever became ready -> nothing was sent.
    expect(classifyRetry(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1')).toBe('safe');
    expect(classifyRetry(status.UNAVAILABLE, 'Stream refused by server')).toBe('safe');
    // The connection went away while the call was in flight -> it may have been processed.
    expect(classifyRetry(status.UNAVAILABLE, 'Connection dropped')).toBe('ambiguous');
    expect(classifyRetry(status.UNAVAILABLE, 'read ECONNRESET')).toBe('ambiguous');
    expect(classifyRetry(status.UNAVAILABLE, 'Received HTTP status code 502')).toBe('ambiguous');
    // The server's own UNAVAILABLE.
    expect(classifyRetry(status.UNAVAILABLE, 'service temporarily unavailable, try again')).toBe('safe');
    // A message over the server's size limit was refused before processing: a rejection, not a rate limit.
    expect(classifyRetry(status.RESOURCE_EXHAUSTED, 'Received message larger than max (5000000 vs 4194304)')).toBe('unsafe');
    expect(classifyRetry(status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted')).toBe('ambiguous');
  });

  it('never carries a token in its message', () => {
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const err = toPpoppoError(serviceError(status.UNAUTHENTICATED, `Invalid token Bearer ${jwt}; also ${jwt}`), 'GetTemplate');
    expect(err.message).not.toContain(jwt);
    expect(err.message).not.toContain('c2lnbmF0dXJl');
    expect(JSON.stringify(err)).not.toContain(jwt);
  });

  it('wraps non-gRPC errors as ambiguous UNKNOWN and passes PpoppoApiErrors through', () => {
    const err = toPpoppoError(new TypeError('boom'), 'CreateSendRequest');
    expect(err).toBeInstanceOf(OtherApiError);
    expect(err.retry).toBe('ambiguous');
    expect(err.codeName).toBe('UNKNOWN');
    expect(toPpoppoError(err, 'Other')).toBe(err);
  });

  it('InvalidRecipientsError lists the issues and is an unsafe INVALID_ARGUMENT', () => {
    const issues = Array.from({ length: 7 }, (_, index) => ({ index, ppnum: 'x', field: 'ppnum', message: 'bad ppnum' }));
    const err = new InvalidRecipientsError('CreateSendRequest', issues);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.retry).toBe('unsafe');
    expect(err.issues).toHaveLength(7);
    expect(err.message).toContain('[0] ppnum: bad ppnum');
    expect(err.message).toContain('and 2 more');
  });
});
