// Shared by the channel tests: a send that must fail, and the error it failed with.
import { expect } from 'vitest';
import { FallbackDeliveryError } from '../../activities/fallback/channel';

export async function sendExpectingFailure(send: Promise<unknown>): Promise<FallbackDeliveryError> {
  const error = await send.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(FallbackDeliveryError);
  return error as FallbackDeliveryError;
}
