import { z } from './zod.js';

/** `YYYY-MM`, the month a run is about. */
export const PartitionSchema = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'partition must be YYYY-MM');

export const MaterializationSchema = z.object({
  /** Object-store key of the materialized object. */
  location: z.string(),
  /** sha256 of the object's bytes: the asset's data version. */
  dataVersion: z.string(),
  metadata: z
    .object({
      rowCount: z.number().int().nonnegative().optional(),
      columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
      durationMs: z.number().nonnegative(),
      bytes: z.number().int().nonnegative().optional(),
    })
    .catchall(z.unknown()),
});
export type Materialization = z.infer<typeof MaterializationSchema>;

export const CheckResultSchema = z.object({
  asset: z.string(),
  check: z.string(),
  passed: z.boolean(),
  severity: z.enum(['ERROR', 'WARN']),
  blocking: z.boolean(),
  description: z.string(),
  /** What was found, in words a person reads (failed checks): "2 products have a negative price: 5017, 6594". */
  message: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()),
});
export type CheckResult = z.infer<typeof CheckResultSchema>;

/** Expected figures for a known month (`bottleneck run --expect FILE`). */
export const ExpectationsSchema = z
  .object({
    rowCounts: z.record(z.string(), z.number().int().nonnegative()).optional(),
    totalRevenue: z
      .string()
      .regex(/^-?\d+(\.\d{1,2})?$/, 'totalRevenue must be a decimal string such as "1234.50"')
      .optional(),
    premium: z.number().int().nonnegative().optional(),
    ordinary: z.number().int().nonnegative().optional(),
  })
  .strict();
export type Expectations = z.infer<typeof ExpectationsSchema>;

/** Fields every event carries, whatever its type. */
export const EnvelopeBase = z.object({
  id: z.string().min(1),
  v: z.number().int().positive(),
  ts: z.iso.datetime({ offset: true }),
  runId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'runId must be 1-128 characters of [A-Za-z0-9._-]'),
  partition: PartitionSchema,
  /** asset key -> what was materialized so far in this run. */
  materializations: z.record(z.string(), MaterializationSchema),
  checks: z.array(CheckResultSchema),
  expectations: ExpectationsSchema.optional(),
  /** When the run started (its trigger's time), carried by every event of the run. */
  runStartedAt: z.iso.datetime({ offset: true }).optional(),
  /** The run this one re-executes (from the stage that failed), carried by every event of the run. */
  parentRunId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/)
    .optional(),
});
