import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

export const PinnedFile = z.object({ key: z.string(), etag: z.string() });

/** A request to (re)run a month: from the schedule, a person, the CLI or a file drop. v1. */
export const TriggerEvent = EnvelopeBase.extend({
  type: z.literal('trigger'),
  v: z.literal(1),
  payload: z.object({
    source: z.enum(['schedule', 'manual', 'cli', 'upload', 'backfill', 'reexecution', 'console']),
    /** A re-run or re-execution: the run it repeats. */
    parentRunId: z.string().optional(),
    /** An upload's trigger pins the files it saw (their ETags): the run reads those versions or is superseded. */
    files: z.object({ erp: PinnedFile, web: PinnedFile, liaison: PinnedFile }).optional(),
    /** A backfill's trigger names it: ingest does not start the month once the backfill is cancelled. */
    backfillId: z.string().max(64).optional(),
  }),
});
