import { z } from 'zod';
import { EnvelopeBase } from '../envelope.js';

/** A request to (re)run a month: from the schedule, a person, the CLI or a file drop. v1. */
export const TriggerEvent = EnvelopeBase.extend({
  type: z.literal('trigger'),
  v: z.literal(1),
  payload: z.object({
    source: z.enum(['schedule', 'manual', 'cli', 'upload']),
  }),
});
