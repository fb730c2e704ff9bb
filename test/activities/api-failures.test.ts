import { describe, expect, it } from 'vitest';
import { TokenEndpointError } from '../../src/api/auth';
import { FailedPreconditionError, GRPC_CODES, InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError, UnauthenticatedError, UnavailableError } from '../../src/api/errors';
import { apiFailure, sendFailure } from '../../activities/api-failures';
import { CONFIGURATION_FAULT, SEND_FAILURE_TYPES, decodeSendFailure } from '../../src/contracts/chunk';

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

  it('redacts ppnums an API error text quotes (failure texts reach worker logs), keeping ids intact', () => {
    const failure = sendFailure(new InvalidArgumentError({ grpcCode: GRPC_CODES.INVALID_ARGUMENT, method, details: 'recipient 12300000042 is blocked (request 01J9ABC12345678901234XYZ)' }));
    expect(failure.message).toContain('recipient …0042 is blocked (request 01J9ABC12345678901234XYZ)');
    expect(JSON.stringify(failure.details)).not.toContain('12300000042');
  });

  it('turns configuration faults into a ConfigurationFault the chunk holds for, never a rejection of its recipients', () => {
    const cases: [Error, string, string][] = [
      [new UnauthenticatedError({ grpcCode: GRPC_CODES.UNAUTHENTICATED, method, details: 'Invalid token' }), 'credentials', 'UNAUTHENTICATED'],
      [new TokenEndpointError('token endpoint refused the client credentials of app: invalid_client (HTTP 401)', { oauthError: 'invalid_client', httpStatus: 401, retry: 'unsafe' }), 'credentials', 'UNAUTHENTICATED'],
      [new TokenEndpointError('token endpoint http://127.0.0.1:1/oauth/token unreachable: ECONNREFUSED', { retry: 'safe' }), 'unreachable', 'UNAVAILABLE'],
      [new PermissionDeniedError({ grpcCode: GRPC_CODES.PERMISSION_DENIED, method, details: 'app suspended' }), 'permission', 'PERMISSION_DENIED'],
      [new NotFoundError({ grpcCode: GRPC_CODES.NOT_FOUND, method, details: 'Template not found' }), 'template', 'NOT_FOUND'],
      [new FailedPreconditionError({ grpcCode: GRPC_CODES.FAILED_PRECONDITION, method, details: 'Template inactive' }), 'template', 'FAILED_PRECONDITION'],
      [new FailedPreconditionError({ grpcCode: GRPC_CODES.FAILED_PRECONDITION, method, details: 'app not approved' }), 'permission', 'FAILED_PRECONDITION'],
      [new UnavailableError({ grpcCode: GRPC_CODES.UNAVAILABLE, method, details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1' }), 'unreachable', 'UNAVAILABLE'],
    ];
    for (const [err, reason, codeName] of cases) {
      const failure = sendFailure(err);
      expect(failure, err.message).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: true, details: [{ reason, codeName }] });
      expect(decodeSendFailure(failure.type, failure.details?.[0], failure.message)).toMatchObject({ kind: 'blocked', reason, codeName });
    }
  });

  it('treats a request over the server\'s size limit as a rejection, never as ambiguous or a rate limit', () => {
    const failure = sendFailure(new ResourceExhaustedError({ grpcCode: GRPC_CODES.RESOURCE_EXHAUSTED, method, details: 'Received message larger than max (5000073 vs 4194304)' }));
    expect(failure).toMatchObject({ type: SEND_FAILURE_TYPES.rejected, details: [{ codeName: 'RESOURCE_EXHAUSTED' }] });
  });

  it('keeps a transient UNAVAILABLE from the token endpoint a refusal to retry soon', () => {
    expect(sendFailure(new TokenEndpointError('token endpoint answered HTTP 503', { httpStatus: 503, retry: 'safe' })).type).toBe(SEND_FAILURE_TYPES.refused);
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

  it('leaves configuration faults to Temporal\'s retries, or reports them at once for the workflow to park', () => {
    const refused = new UnauthenticatedError({ grpcCode: GRPC_CODES.UNAUTHENTICATED, method: 'GetSendRequestStatus', details: 'Invalid token' });
    expect(apiFailure(refused, 'reading send request sr_1')).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: false, details: [{ reason: 'credentials' }] });
    expect(apiFailure(refused, 'looking up template "x"', { faults: 'report' })).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: true, message: 'looking up template "x": GetSendRequestStatus: UNAUTHENTICATED: Invalid token' });
  });
});
