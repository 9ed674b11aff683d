import type { EventType } from '../events/index.js';

export interface HandledRun {
  runId: string;
  partition: string;
  eventId: string;
  consumed: EventType;
  emitted: EventType[];
  outcome: 'ok' | 'failed' | 'skipped' | 'error';
  startedAt: string;
  durationMs: number;
  error?: string;
}

/** What a service did lately and what it is doing: the body of GET /status. */
export class RunTracker {
  private readonly recent: HandledRun[] = [];
  private readonly inFlight = new Map<
    string,
    { runId: string; partition: string; consumed: EventType; startedAt: string }
  >();

  constructor(private readonly keep = 50) {}

  start(eventId: string, runId: string, partition: string, consumed: EventType): void {
    this.inFlight.set(eventId, { runId, partition, consumed, startedAt: new Date().toISOString() });
  }

  isInFlight(eventId: string): boolean {
    return this.inFlight.has(eventId);
  }

  finish(r: Omit<HandledRun, 'startedAt'>): void {
    const started = this.inFlight.get(r.eventId)?.startedAt ?? new Date().toISOString();
    this.inFlight.delete(r.eventId);
    this.recent.unshift({ ...r, startedAt: started });
    this.recent.length = Math.min(this.recent.length, this.keep);
  }

  snapshot(): {
    recent: HandledRun[];
    inFlight: { eventId: string; runId: string; partition: string; consumed: EventType; startedAt: string }[];
  } {
    return { recent: [...this.recent], inFlight: [...this.inFlight].map(([eventId, v]) => ({ eventId, ...v })) };
  }
}
