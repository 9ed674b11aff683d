import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

/** Any stage: the run failed. The alerter writes the dead-letter record and sends the alert. v1. */
export const FailedEvent = EnvelopeBase.extend({
  type: z.literal('failed'),
  v: z.literal(1),
  payload: z.object({
    stage: z.string(),
    asset: z.string().optional(),
    code: z.string(),
    errorClass: z.string(),
    message: z.string(),
    retriable: z.boolean(),
    location: z
      .object({
        file: z.string().optional(),
        sheet: z.string().optional(),
        column: z.string().optional(),
        row: z.number().int().optional(),
      })
      .optional(),
    /** When the stage began handling the trigger (its retry budget's start): `failedAt` minus this is how long it took to give up. */
    startedAt: z.iso.datetime({ offset: true }).optional(),
    failedAt: z.iso.datetime({ offset: true }),
    /** The event whose handling failed (without its materializations, to keep records small). */
    trigger: z.object({ id: z.string(), type: z.string(), v: z.number(), ts: z.string() }).optional(),
  }),
});
