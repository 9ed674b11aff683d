import { join } from 'node:path';
import { SOURCES, type InputName } from '@bottleneck/shared';
import type { AssetContext, ComputeResult } from '@bottleneck/shared/assets/define';
import type { SheetSummary } from '@bottleneck/shared/excel/read';

const READER = import.meta.resolve('@bottleneck/shared/excel/read');

/**
 * Reads one raw workbook into the DuckDB table raw_<name> (bounded in memory and time; off the
 * main thread with workers), then runs create_<name>_clean.sql. Records rows read, blank rows and
 * ignored columns.
 */
export async function cleanWorkbook(ctx: AssetContext, name: InputName): Promise<ComputeResult> {
  const raw = await ctx.input(`raw_${name}`);
  const ndjson = join(ctx.workDir, `raw_${name}.ndjson`);
  // ingest verified these bytes (its data version is their sha256): the CRC pass is not repeated.
  const sheet = await ctx.tasks.run<SheetSummary>({
    module: READER, fn: 'readSheetToNdjson', args: [raw.path, SOURCES[name], ctx.limits, ndjson, raw.materialization.dataVersion],
    timeoutMs: ctx.limits.maxMillis + 5_000, label: SOURCES[name].file,
  });
  const db = await ctx.db();
  await db.loadNdjson(`raw_${name}`, SOURCES[name].columns, ndjson);
  await db.run(ctx.sql(`create_${name}_clean`));
  return {
    kind: 'table',
    metadata: { rawRows: sheet.rowCount + sheet.blankRows, blankRows: sheet.blankRows, ...(sheet.extraColumns.length ? { ignoredColumns: sheet.extraColumns } : {}) },
  };
}
