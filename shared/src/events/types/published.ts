import { z } from 'zod';
import { EnvelopeBase } from '../envelope.js';

/** publisher: the run's outputs are under extracts/<partition>/, manifest last. v1. */
export const PublishedEvent = EnvelopeBase.extend({
  type: z.literal('published'),
  v: z.literal(1),
  payload: z.object({
    manifestKey: z.string(),
    files: z.array(z.object({ key: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() })),
  }),
});
