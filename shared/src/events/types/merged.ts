import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

/** merge: merged_with_revenue is materialized and its checks passed. v1. */
export const MergedEvent = EnvelopeBase.extend({
  type: z.literal('merged'),
  v: z.literal(1),
  payload: z.object({}).strict(),
});
