import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

/** clean: the quality gate passed: the checks of the cleaned assets and the cross-asset checks. v1. */
export const ValidatedEvent = EnvelopeBase.extend({
  type: z.literal('validated'),
  v: z.literal(1),
  payload: z.object({}).strict(),
});
