// What the listener holds back, and when it hands it to a chunk: the coalescing policy, pure (no
// I/O), so it is unit-tested without a stream or a server (test/listener/held-events.test.ts).
//
// A first campaign's events trickle in over a day; one signal per event would cost every chunk a
// workflow task per event and push it far past Temporal's history limits. So a send request's
// events wait here until one of:
//   - `batchMaxEvents` of them wait (a burst: a chunk of 1,000 delivered at once goes out at once);
//   - the request completed (REQUEST_COMPLETED: everything about it is known) — but a request that
//     is one part of a chunk sent as several (the route's `part`), not its last, waits for the
//     chunk's last part, at most `partsMaxDelayMs` (default 30 s): the chunk then hears all its
//     parts in one signal and one workflow task, not one per request;
//   - an actionable event has waited `actionableMaxDelayMs` (default 30 s, so a denial's fallback
//     goes out within a minute): CONSENT_DENIED and RECIPIENT_FAILED, as far as the chunk's fallback
//     policy acts on them (the route's `prompt`; without one, both);
//   - the oldest has waited `batchMaxDelayMs` (default 10 min): grants and deliveries need no action;
//   - the activity run ends (everything resolved is handed over).
// The committed cursor never passes a held event: it is the id read just before the oldest one.
import type { DeliveryEvent } from '../src/api/types';
import { LISTENER_MAX_RUN_MS, PROMPT_EVENT_TYPES } from '../src/contracts/listener';
import type { PromptEventType, RouteTarget, RoutePart } from '../src/contracts/listener';

export interface HoldTiming {
  batchMaxEvents: number;
  actionableMaxDelayMs: number;
  batchMaxDelayMs: number;
  partsMaxDelayMs: number;
}

export const DEFAULT_HOLD_TIMING: HoldTiming = { batchMaxEvents: 1_000, actionableMaxDelayMs: 30_000, batchMaxDelayMs: 10 * 60_000, partsMaxDelayMs: 30_000 };

const DAY_MS = 86_400_000;

/** Shortest activity run of a scaled listener: each run opens a fresh stream and a new activity. */
const MIN_SCALED_RUN_MS = 60_000;

/**
 * The listener's timing for a consent window scaled down from a real day (demo, tests, bench): the
 * holds shrink with the window, so a scaled run makes a real day's events and signals. Runs stay at
 * least a minute: a run's end only hands over early what each request's own hold would hand over
 * anyway, while very short runs would spend the time reopening the stream.
 */
export function scaledListenerTiming(consentWindowMs: number): Pick<HoldTiming, 'actionableMaxDelayMs' | 'batchMaxDelayMs' | 'partsMaxDelayMs'> & { maxRunMs: number } {
  const scale = consentWindowMs / DAY_MS;
  return {
    actionableMaxDelayMs: Math.max(1, Math.round(DEFAULT_HOLD_TIMING.actionableMaxDelayMs * scale)),
    batchMaxDelayMs: Math.max(1, Math.round(DEFAULT_HOLD_TIMING.batchMaxDelayMs * scale)),
    partsMaxDelayMs: Math.max(1, Math.round(DEFAULT_HOLD_TIMING.partsMaxDelayMs * scale)),
    maxRunMs: Math.max(MIN_SCALED_RUN_MS, Math.round(LISTENER_MAX_RUN_MS * scale)),
  };
}

/** Events the chunk acts on at once (`prompt`: its fallback policy's, else all that may call for a fallback): they do not wait for the slow flush. */
export function isActionable(event: DeliveryEvent, prompt: readonly PromptEventType[] = PROMPT_EVENT_TYPES): boolean {
  return (prompt as readonly string[]).includes(event.type);
}

interface Held {
  event: DeliveryEvent;
  /** Read order. */
  seq: number;
  readAt: number;
  /** The event read just before this one (the cursor to resume from if this one is not handed over). */
  readAfter: string | null;
}

interface Group {
  workflowId?: string;
  /** The event types its chunk acts on at once (RouteTarget.prompt). */
  prompt?: PromptEventType[];
  /** Its place among its chunk's requests (RouteTarget.part). */
  part?: RoutePart;
  events: Held[];
  /** REQUEST_COMPLETED was read: hand over what is held now. */
  complete: boolean;
  /** When it became complete or full: due from then (a part that is not its chunk's last: waits for it). */
  readyAt?: number;
  /**
   * When its oldest actionable event was read (null: none), kept between flushes: every flush looks
   * at every group, and rescanning thousands of held deliveries each time cost the listener more than
   * the rest of its work. Undefined: to be found again (the events or the prompt changed).
   */
  actionableAt?: number | null;
}

/** Events of one send request due for its chunk. */
export interface DueEvents {
  sendRequestId: string;
  workflowId: string;
  events: DeliveryEvent[];
  /** The route's part: its chunk takes this request's events together with its other parts' (deliveryBatchesSignal). */
  part?: RoutePart;
}

const isLastPart = (part: RoutePart | undefined) => part === undefined || part.index >= part.count - 1;

export class HeldEvents {
  private readonly groups = new Map<string, Group>();
  private lastRead: string | null;
  private reads = 0;
  private count = 0;

  constructor(
    private readonly timing: HoldTiming,
    cursor: string | null,
  ) {
    this.lastRead = cursor;
  }

  /** Events held now. */
  get size(): number {
    return this.count;
  }

  /** Takes a freshly read event; returns whether its request should be looked at right away (full, or complete). */
  add(event: DeliveryEvent, now: number): boolean {
    const readAfter = this.lastRead;
    this.lastRead = event.eventId;
    const group = this.groups.get(event.sendRequestId);
    if (event.type === 'REQUEST_COMPLETED') {
      if (group) {
        group.complete = true;
        group.readyAt ??= now;
      }
      return group !== undefined;
    }
    if (event.ppnum === undefined || event.type === 'UNKNOWN') return false; // nothing a chunk could apply
    const target = group ?? this.newGroup(event.sendRequestId);
    target.events.push({ event, seq: this.reads++, readAt: now, readAfter });
    this.count += 1;
    if (target.actionableAt === null && isActionable(event, target.prompt)) target.actionableAt = now;
    const full = target.events.length >= this.timing.batchMaxEvents;
    if (full) target.readyAt ??= now;
    return full;
  }

  /** Send requests whose chunk is not known yet. */
  unresolved(): string[] {
    return [...this.groups].filter(([, group]) => group.workflowId === undefined).map(([id]) => id);
  }

  resolve(sendRequestId: string, target: RouteTarget): void {
    const group = this.groups.get(sendRequestId);
    if (!group) return;
    group.workflowId = target.workflowId;
    group.prompt = target.prompt;
    group.part = target.part;
    group.actionableAt = undefined;
  }

  /** What is due for its chunk now (everything resolved, when `all`), oldest request first. Taken off only by `handedOver`. */
  due(now: number, all = false): DueEvents[] {
    // Chunks whose last part is ready: their earlier parts waiting for it go along.
    const lastPartReady = new Set<string>();
    for (const group of this.groups.values()) if (group.workflowId !== undefined && group.part && isLastPart(group.part) && group.readyAt !== undefined) lastPartReady.add(group.workflowId);
    const due: DueEvents[] = [];
    for (const [sendRequestId, group] of this.groups) {
      if (group.workflowId === undefined || group.events.length === 0) continue;
      const isDue = all || now >= this.dueAt(group) || (group.readyAt !== undefined && lastPartReady.has(group.workflowId));
      if (isDue) due.push({ sendRequestId, workflowId: group.workflowId, events: group.events.map((held) => held.event), ...(group.part ? { part: group.part } : {}) });
    }
    return due;
  }

  /** When a group's events are due by themselves (a part that is not its chunk's last may go earlier, with the last). */
  private dueAt(group: Group): number {
    const first = group.events[0];
    if (!first) return Infinity;
    let at = first.readAt + this.timing.batchMaxDelayMs;
    if (group.actionableAt === undefined) group.actionableAt = group.events.find((held) => isActionable(held.event, group.prompt))?.readAt ?? null;
    if (group.actionableAt !== null) at = Math.min(at, group.actionableAt + this.timing.actionableMaxDelayMs);
    if (group.readyAt !== undefined) at = Math.min(at, isLastPart(group.part) ? group.readyAt : group.readyAt + this.timing.partsMaxDelayMs);
    return at;
  }

  /** The first `count` held events of a request reached their chunk (or were skipped): no longer held. */
  handedOver(sendRequestId: string, count: number): void {
    const group = this.groups.get(sendRequestId);
    if (!group) return;
    const taken = Math.min(count, group.events.length);
    group.events.splice(0, taken);
    this.count -= taken;
    group.actionableAt = undefined;
    if (group.events.length === 0) this.groups.delete(sendRequestId);
    else if (!group.complete && group.events.length < this.timing.batchMaxEvents) group.readyAt = undefined; // the rest waits again
  }

  /** Every held event of a request is skipped (no chunk owns it, or its chunk has closed). */
  drop(sendRequestId: string): DeliveryEvent[] {
    const group = this.groups.get(sendRequestId);
    if (!group) return [];
    this.groups.delete(sendRequestId);
    this.count -= group.events.length;
    return group.events.map((held) => held.event);
  }

  /**
   * When the most overdue held event should have reached its chunk (undefined: nothing held). Events
   * are held on purpose (batching); only time past this deadline is lag.
   */
  handOverDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const group of this.groups.values()) {
      const due = this.dueAt(group);
      if (due !== Infinity && (earliest === undefined || due < earliest)) earliest = due;
    }
    return earliest;
  }

  /** The committed cursor: every event up to it was handed over (or needed no chunk). */
  cursor(): string | null {
    let oldest: Held | undefined;
    for (const group of this.groups.values()) {
      const first = group.events[0];
      if (first && (oldest === undefined || first.seq < oldest.seq)) oldest = first;
    }
    return oldest ? oldest.readAfter : this.lastRead;
  }

  private newGroup(sendRequestId: string): Group {
    const group: Group = { events: [], complete: false };
    this.groups.set(sendRequestId, group);
    return group;
  }
}
