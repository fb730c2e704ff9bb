import { describe, expect, it } from 'vitest';
import { GRPC_CODES, InternalError, InvalidArgumentError, ResourceExhaustedError, UnavailableError } from '../../src/api/errors';
import { apiFailure, sendFailure } from '../../activities/api-failures';
import { SEND_FAILURE_TYPES } from '../../src/contracts/chunk';

const method = 'CreateSendRequest';

describe('sendFailure', () => {
  it('turns a rate limit into SendRefused with the retry-after hint', () => {
    const failure = sendFailure(new ResourceExhaustedError({ grpcCode: GRPC_CODES.RESOURCE_EXHAUSTED, method, details: 'rate limit exceeded', retryAfterMs: 750 }));
    expect(failure).toMatchObject({ type: SEND_FAILURE_TYPES.refused, nonRetryable: true });
    expect(failure.details).toEqual([{ retryAfterMs: 750, quota: false, codeName: 'RESOURCE_EXHAUSTED' }]);
  });

  it('flags the monthly quota', () => {
    const failure = sendFailure(new ResourceExhaustedError({ grpcCode: GRPC_CODES.RESOURCE_EXHAUSTED, method, details: 'monthly quota exceeded', retryAfterMs: 3_600_000 }));
    expect(failure.details?.[0]).toMatchObject({ quota: true, retryAfterMs: 3_600_000 });
  });

  it('maps server UNAVAILABLE to SendRefused, INVALID_ARGUMENT to SendRejected, INTERNAL to SendAmbiguous', () => {
    expect(sendFailure(new UnavailableError({ grpcCode: GRPC_CODES.UNAVAILABLE, method, details: 'try later' })).type).toBe(SEND_FAILURE_TYPES.refused);
    expect(sendFailure(new InvalidArgumentError({ grpcCode: GRPC_CODES.INVALID_ARGUMENT, method, details: 'recipients[0].ppnum bad' }))).toMatchObject({ type: SEND_FAILURE_TYPES.rejected, details: [{ codeName: 'INVALID_ARGUMENT' }] });
    expect(sendFailure(new InternalError({ grpcCode: GRPC_CODES.INTERNAL, method, details: 'boom' })).type).toBe(SEND_FAILURE_TYPES.ambiguous);
  });

  it('treats an unknown error as ambiguous and scrubs tokens from it', () => {
    const failure = sendFailure(new Error('failed with Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl'));
    expect(failure.type).toBe(SEND_FAILURE_TYPES.ambiguous);
    expect(failure.message).not.toContain('eyJ');
  });
});

describe('apiFailure', () => {
  it('makes permanent refusals non-retryable and keeps the retry hint of the others', () => {
    expect(apiFailure(new InvalidArgumentError({ grpcCode: GRPC_CODES.INVALID_ARGUMENT, method: 'CreateTemplate', details: 'bad' }), 'creating template')).toMatchObject({ nonRetryable: true, type: 'INVALID_ARGUMENT' });
    const limited = apiFailure(new ResourceExhaustedError({ grpcCode: GRPC_CODES.RESOURCE_EXHAUSTED, method: 'GetTemplate', details: 'slow down', retryAfterMs: 900 }), 'reading');
    expect(limited).toMatchObject({ nonRetryable: false, nextRetryDelay: 900 });
  });
});
