import { z } from '../zod.js';
import { EnvelopeBase } from '../envelope.js';

export const ArrivedFile = z.object({ key: z.string(), sha256: z.string(), bytes: z.number().int().nonnegative() });

/** ingest: the three exports of a month are present and passed the vital check. v1. */
export const FileArrivedEvent = EnvelopeBase.extend({
  type: z.literal('file-arrived'),
  v: z.literal(1),
  payload: z.object({ files: z.object({ erp: ArrivedFile, web: ArrivedFile, liaison: ArrivedFile }) }),
});
