import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

/** publisher: the run's outputs are under extracts/<partition>/<run-id>/, manifest after them, and the month's pointer switched last. v1. */
export const PublishedEvent = EnvelopeBase.extend({
  type: z.literal('published'),
  v: z.literal(1),
  payload: z.object({
    manifestKey: z.string(),
    /** extracts/<partition>/_current.json, which now names this run (absent in events of earlier versions of the publisher). */
    pointerKey: z.string().optional(),
    files: z.array(z.object({ key: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() })),
  }),
});
