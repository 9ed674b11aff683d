import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

/** clean: the three cleaned assets are materialized (their checks run in the validation gate). v1. */
export const CleanedEvent = EnvelopeBase.extend({
  type: z.literal('cleaned'),
  v: z.literal(1),
  payload: z.object({}).strict(),
});
