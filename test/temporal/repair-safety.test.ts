// When `campaign repair` may reset a chunk (src/client/repair.ts sendAfter): never when the reset
// could let it send its messages again.
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { sendAfter } from '../../src/client/repair';

const { EventType } = proto.temporal.api.enums.v1;
// fromObject takes the int64 ids as numbers.
const event = (fields: Record<string, unknown>) => proto.temporal.api.history.v1.HistoryEvent.fromObject(fields);
const scheduled = (eventId: number, activity: string) =>
  event({ eventId, eventType: EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, activityTaskScheduledEventAttributes: { activityType: { name: activity } } });
const completed = (eventId: number, scheduledEventId: number) =>
  event({ eventId, eventType: EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, activityTaskCompletedEventAttributes: { scheduledEventId } });
const timedOut = (eventId: number, scheduledEventId: number) =>
  event({ eventId, eventType: EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, activityTaskTimedOutEventAttributes: { scheduledEventId } });

describe('resetting a chunk to a workflow task', () => {
  it('is safe when its send closed before that task, or it sent nothing', () => {
    expect(sendAfter([scheduled(5, 'createSendRequest'), completed(7, 5)], 20)).toBeUndefined();
    expect(sendAfter([scheduled(5, 'createSendRequest'), timedOut(7, 5), scheduled(9, 'createSendRequest'), completed(11, 9)], 20)).toBeUndefined();
    expect(sendAfter([scheduled(5, 'readRecipients'), scheduled(30, 'sendFallbacks')], 20)).toBeUndefined();
    expect(sendAfter([], 3)).toBeUndefined();
  });

  it('is refused when a send was in flight at that task (closed after it, or never)', () => {
    expect(sendAfter([scheduled(5, 'createSendRequest'), completed(25, 5)], 20)).toMatch(/send request \(event 5\) was in flight/);
    expect(sendAfter([scheduled(5, 'createSendRequest')], 20)).toMatch(/in flight/);
  });

  it('is refused when a send was made after that task', () => {
    expect(sendAfter([scheduled(5, 'createSendRequest'), timedOut(7, 5), scheduled(22, 'createSendRequest'), completed(24, 22)], 20)).toMatch(/send request after that workflow task \(event 22\)/);
  });
});
