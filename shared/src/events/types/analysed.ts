import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

/** analytics: the reports are materialized and their checks passed. v1. */
export const AnalysedEvent = EnvelopeBase.extend({
  type: z.literal('analysed'),
  v: z.literal(1),
  payload: z.object({}).strict(),
});
