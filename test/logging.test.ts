// src/logging.ts: what a person sees on the terminal for each kind of SDK log entry, and what the
// log file keeps. (test/e2e/demo.test.ts checks the same end to end on `npm run demo`.)
import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry, LogLevel, LogMetadata } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { SEND_FAILURE_TYPES } from '../src/contracts/chunk';
import { fileLine, plainLine } from '../src/logging';

function entry(level: LogLevel, message: string, meta?: LogMetadata): LogEntry {
  return { level, message, meta, timestampNanos: BigInt(Date.parse('2026-01-02T03:04:05.000Z')) * 1_000_000n };
}

/** The metadata the SDK attaches to an activity's "Activity failed" entry. */
function activityFailed(error: unknown, activityType = 'createSendRequest'): LogEntry {
  return entry('WARN', 'Activity failed', {
    error,
    activityType,
    workflowId: 'campaign/spring/chunk/000003',
    taskToken: 'CiQ0ZjM3secret-token',
    attempt: 1,
    namespace: 'default',
    taskQueue: 'ppoppo-send',
    durationMs: 12,
  });
}

const refused = (retryAfterMs: number | null) =>
  ApplicationFailure.create({ type: SEND_FAILURE_TYPES.refused, message: 'unavailable', nonRetryable: true, details: [{ retryAfterMs, quota: false, codeName: 'UNAVAILABLE' }] });

describe('plainLine (the terminal)', () => {
  it('turns the handled send faults into one sentence each', () => {
    expect(plainLine(activityFailed(refused(1500)))).toBe("campaign spring, chunk 3: send refused (UNAVAILABLE), nothing was accepted; sending again in 1.5 s (the server's hint)");
    expect(plainLine(activityFailed(refused(null)))).toBe('campaign spring, chunk 3: send refused (UNAVAILABLE), nothing was accepted; sending again after a backoff');
    const lost = ApplicationFailure.create({ type: SEND_FAILURE_TYPES.ambiguous, message: 'answer lost', nonRetryable: true, details: [{ codeName: 'INTERNAL', message: 'answer lost' }] });
    expect(plainLine(activityFailed(lost))).toBe('campaign spring, chunk 3: the answer to the send was lost (INTERNAL); checking with the API whether it was accepted before sending again');
    const rejected = ApplicationFailure.create({ type: SEND_FAILURE_TYPES.rejected, message: 'bad template\nmore', nonRetryable: true, details: [{ codeName: 'INVALID_ARGUMENT', message: 'bad template' }] });
    expect(plainLine(activityFailed(rejected))).toBe('campaign spring, chunk 3: send rejected (INVALID_ARGUMENT): bad template; its recipients end invalid');
  });

  it('shows any other failure as one line with its message and context, never a stack or the task token', () => {
    const error = new Error('connect ECONNREFUSED 127.0.0.1:9\n    at TCPConnectWrap.afterConnect');
    const line = plainLine(activityFailed(error, 'sendFallbacks'));
    expect(line).toBe('warn: Activity failed: Error: connect ECONNREFUSED 127.0.0.1:9 (activityType=sendFallbacks, workflowId=campaign/spring/chunk/000003)');
    expect(line).not.toContain('secret-token');
    expect(plainLine(entry('WARN', 'no campaign owns this send request; skipping its events', { sendRequestId: 'sr-1', events: 3 }))).toBe(
      'warn: no campaign owns this send request; skipping its events (sendRequestId=sr-1, events=3)',
    );
  });

  it("keeps the send worker's expected 'No workflows registered' warning off the terminal", () => {
    expect(plainLine(entry('WARN', 'No workflows registered, not polling for workflow tasks'))).toBeUndefined();
  });
});

describe('fileLine (the log file)', () => {
  it('keeps the time, level, message, metadata and the stack, but not the task token', () => {
    const line = fileLine(activityFailed(refused(null)));
    expect(line.startsWith('2026-01-02T03:04:05.000Z WARN Activity failed {')).toBe(true);
    expect(line).toContain('"workflowId":"campaign/spring/chunk/000003"');
    expect(line).toContain(`${SEND_FAILURE_TYPES.refused}: unavailable`);
    expect(line).toMatch(/^\s+at /m);
    expect(line).not.toContain('taskToken');
    expect(line).not.toContain('secret-token');
    expect(line.endsWith('\n')).toBe(true);
  });
});
