// The campaign's clock: waiting for the spec's startAt, noticing its deadline, and waking the main
// loop when the throttle or the send window lets the next chunk start. Each wait sets a timer only
// when the spec asks for it, so histories recorded before these fields existed replay with the same commands.
import { condition, setHandler } from '@temporalio/workflow';
import { chunkTimeZone } from '../../src/campaign/chunk-source';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import type { CampaignSettings, CampaignSpec } from '../../src/campaign/spec';
import { throttleUpdate } from '../../src/contracts/campaign';
import type { ChunkInput } from '../../src/contracts/chunk';
import type { CampaignState } from './state';

/** The spec's deadline, throttle and send window into the state, and the setThrottle update (before the first await). */
export function timeCampaign(spec: CampaignSpec, state: CampaignState, publish: () => void): void {
  state.timing({ deadline: spec.deadline, throttle: spec.throttle, sendWindow: spec.sendWindow, deadlineFallbacks: namesDeadline(spec) });
  const setThrottle = ({ perMinute }: { perMinute: number | null }) => {
    state.setThrottle(perMinute);
    publish();
    return state.progress();
  };
  setHandler(throttleUpdate, setThrottle, { validator: (payload) => state.checkThrottle(payload?.perMinute) });
}

/** Whether the fallback policy names 'deadline' (read before the spec is validated: any shape). */
function namesDeadline(spec: CampaignSpec): boolean {
  const on: unknown = spec?.fallback?.on;
  return Array.isArray(on) && on.includes('deadline');
}

/** What a chunk needs of the spec's timing and weight (only the fields the spec sets); its window is in its recipients' zone. */
export function chunkTiming(spec: CampaignSpec, source: ChunkSource): Pick<ChunkInput, 'deadline' | 'weight' | 'sendWindow'> {
  const timeZone = chunkTimeZone(source);
  return {
    ...(spec.deadline ? { deadline: spec.deadline } : {}),
    ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
    ...(spec.sendWindow ? { sendWindow: timeZone ? { ...spec.sendWindow, timeZone } : spec.sendWindow } : {}),
  };
}

/**
 * Waits, status 'scheduled', until startAt (pause and cancel apply meanwhile; a campaign paused
 * then stays paused until resumed). Returns false when it was cancelled while waiting.
 */
export async function waitForStart(settings: CampaignSettings, state: CampaignState, publish: () => void): Promise<boolean> {
  const startAt = settings.startAtMs;
  if (startAt === undefined || Date.now() >= startAt) return true;
  state.scheduled(new Date(startAt).toISOString());
  publish();
  while (state.status !== 'cancelling') {
    const left = startAt - Date.now();
    if (left <= 0 && state.status !== 'paused') {
      state.startDue();
      publish();
      return true;
    }
    const status = state.status;
    await condition(() => state.status !== status, left > 0 ? left : undefined);
  }
  return false;
}

/** Marks the deadline passed once it has; returns whether that changed now (publish then). */
export function deadlineReached(settings: CampaignSettings, state: CampaignState): boolean {
  if (settings.deadlineMs === undefined || Date.now() < settings.deadlineMs || state.deadlineHasPassed) return false;
  state.deadlinePassed();
  return true;
}

/** Milliseconds until the main loop must look again by itself (the deadline, the throttle's next start, the earliest window opening among zones with chunks waiting), or undefined: no timer. */
export function nextWake(settings: CampaignSettings, state: CampaignState, inFlight: number, maxPerRun: number): number | undefined {
  const now = Date.now();
  const wakes: number[] = [];
  if (settings.deadlineMs !== undefined && now < settings.deadlineMs) wakes.push(settings.deadlineMs - now);
  if (state.waitsForPace(inFlight, maxPerRun, now)) wakes.push(state.nextStartAt(now) - now);
  return wakes.length > 0 ? Math.max(1, Math.min(...wakes)) : undefined;
}
