import { describe, expect, it } from 'vitest';
import { componentFromProto, componentToProto, eventFromProto, sendStateFromProto } from '../../src/api/convert';
import { RecipientDeliveryStatus, SendRequestEventType, SendRequestStatus, TemplateComponentType } from '../../src/api/gen/ppoppo/external/v1/external';
import type { TemplateComponentSpec } from '../../src/api/types';

describe('convert', () => {
  it('round-trips every component type through proto', () => {
    const specs: TemplateComponentSpec[] = [
      { type: 'text', content: 'Hi {{name}}' },
      { type: 'divider' },
      { type: 'button', label: 'Go', url: 'https://x.test' },
      { type: 'image', url: 'https://x.test/a.png', alt: 'a' },
      { type: 'image', url: 'https://x.test/b.png' },
      { type: 'poll', question: 'Q?', options: ['a', 'b'] },
    ];
    expect(specs.map(componentToProto).map(componentFromProto)).toEqual(specs);
    expect(componentToProto({ type: 'text', content: 'x' }).componentType).toBe(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT);
    expect(componentFromProto({ componentType: TemplateComponentType.UNRECOGNIZED, options: [] })).toBeUndefined();
  });

  it('maps prefixed enums to plain names and unknown values to UNKNOWN', () => {
    expect(sendStateFromProto(SendRequestStatus.SEND_REQUEST_STATUS_QUEUED)).toBe('QUEUED');
    expect(sendStateFromProto(SendRequestStatus.SEND_REQUEST_STATUS_UNSPECIFIED)).toBe('UNKNOWN');
    expect(sendStateFromProto(42 as SendRequestStatus)).toBe('UNKNOWN');
  });

  it('flattens an event', () => {
    const occurredAt = new Date('2026-01-02T03:04:05.678Z');
    expect(
      eventFromProto({
        eventId: '01J0000000000000000000000A',
        sendRequestId: 'sr_1',
        eventType: SendRequestEventType.RECIPIENT_FAILED,
        recipient: { id: 'r', ppnum: '12300000004', status: RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_FAILED, errorCode: 'DELIVERY_FAILED' },
        occurredAt,
      }),
    ).toEqual({ eventId: '01J0000000000000000000000A', sendRequestId: 'sr_1', type: 'RECIPIENT_FAILED', ppnum: '12300000004', errorCode: 'DELIVERY_FAILED', occurredAt: occurredAt.toISOString() });
    expect(
      eventFromProto({
        eventId: '01J0000000000000000000000B',
        sendRequestId: 'sr_1',
        eventType: SendRequestEventType.REQUEST_COMPLETED,
        summary: { id: 'sr_1', status: SendRequestStatus.SEND_REQUEST_STATUS_COMPLETED, totalRecipients: 2, delivered: 1, pendingConsent: 0, failed: 1 },
      }),
    ).toEqual({
      eventId: '01J0000000000000000000000B',
      sendRequestId: 'sr_1',
      type: 'REQUEST_COMPLETED',
      summary: { sendRequestId: 'sr_1', status: 'COMPLETED', totalRecipients: 2, delivered: 1, pendingConsent: 0, failed: 1 },
    });
  });
});
