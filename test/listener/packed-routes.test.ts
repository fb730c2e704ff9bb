// The listener workflow's routes as a continue-as-new carries them: packed, and read back either form.
import { describe, expect, it } from 'vitest';
import { chunkWorkflowId } from '../../src/contracts/chunk';
import { MAX_ROUTES, packRoutes, routesOfInput } from '../../src/contracts/listener';
import type { RouteTarget } from '../../src/contracts/listener';

/** A send request id as the API mints them (sr_ and a ULID). */
const requestId = (i: number) => `sr_01JF${String(i).padStart(22, '0')}`;

describe('packed routes', () => {
  it('reads back every route in order, with its prompt types and part as told (absent stays absent)', () => {
    const routes: Array<[string, RouteTarget]> = [
      [requestId(1), { workflowId: chunkWorkflowId('spring', 0), prompt: ['CONSENT_DENIED'] }],
      [requestId(2), { workflowId: chunkWorkflowId('autumn', 7) }],
      [requestId(3), { workflowId: chunkWorkflowId('spring', 1), prompt: [] }],
      [requestId(4), { workflowId: chunkWorkflowId('spring', 2), prompt: ['CONSENT_DENIED', 'RECIPIENT_FAILED'] }],
      [requestId(5), { workflowId: 'no-slash-at-all', prompt: ['RECIPIENT_FAILED'] }],
      [requestId(6), { workflowId: chunkWorkflowId('spring', 3), prompt: [], part: { index: 0, count: 5 } }],
      [requestId(7), { workflowId: chunkWorkflowId('spring', 3), part: { index: 4, count: 5 } }],
    ];
    const packed = packRoutes(routes);
    expect(packed.prefixes).toEqual(['campaign/spring/chunk/', 'campaign/autumn/chunk/', '']);
    expect(routesOfInput({ cursor: null, packedRoutes: packed })).toEqual(routes);
  });

  it('still reads the routes a listener run before packing carried', () => {
    const input = { cursor: 'ev_1', routes: [{ sendRequestId: requestId(1), workflowId: chunkWorkflowId('spring', 0) }, { sendRequestId: requestId(2), workflowId: chunkWorkflowId('spring', 1), prompt: ['CONSENT_DENIED' as const] }] };
    expect(routesOfInput(input)).toEqual([
      [requestId(1), { workflowId: chunkWorkflowId('spring', 0) }],
      [requestId(2), { workflowId: chunkWorkflowId('spring', 1), prompt: ['CONSENT_DENIED'] }],
    ]);
  });

  it("keeps MAX_ROUTES routes of long campaign ids under Temporal's 512 KB payload warning", () => {
    const campaignId = `quarterly-newsletter-${'x'.repeat(40)}`;
    const routes = Array.from({ length: MAX_ROUTES }, (_, i): [string, RouteTarget] => [requestId(i), { workflowId: chunkWorkflowId(`${campaignId}-${i % 20}`, i), prompt: ['CONSENT_DENIED'], part: { index: i % 5, count: 5 } }]);
    const packedBytes = Buffer.byteLength(JSON.stringify({ cursor: requestId(0), packedRoutes: packRoutes(routes) }));
    const unpackedBytes = Buffer.byteLength(JSON.stringify({ cursor: requestId(0), routes: routes.map(([sendRequestId, target]) => ({ sendRequestId, ...target })) }));
    expect(unpackedBytes).toBeGreaterThan(512 * 1024); // what runs carried before
    expect(packedBytes).toBeLessThan(300 * 1024);
  });
});
