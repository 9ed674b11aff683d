import { INPUT_NAMES, SOURCES, type InputName, type SourceSpec } from '@bottleneck/shared';
import type { AssetContext, ComputeResult } from '@bottleneck/shared/assets/define';
import type { Db } from '@bottleneck/shared/duck/index';
import { readSheetInto, replayBatch, type SheetSummary } from '@bottleneck/shared/excel/read';
import { timed } from '@bottleneck/shared/profile';
import { streamTask, taskFn } from '@bottleneck/shared/workers/pool';

const readSheetBatches = taskFn<typeof import('@bottleneck/shared/excel/read')>()(
  import.meta.resolve('@bottleneck/shared/excel/read'),
  'readSheetBatches',
);

/**
 * Which workbooks go to the worker threads: the largest ones, one per thread a month may hold
 * (`perGroup`: all but one of the workers, so that another month always finds one free); the main
 * thread reads the others meanwhile (with two workers or one: web.xlsx there, erp and liaison here).
 */
function offThread(ctx: AssetContext, name: InputName): boolean {
  const bytes = (n: InputName) => ctx.materialization(`raw_${n}`).metadata.bytes ?? 0;
  return [...INPUT_NAMES]
    .sort((a, b) => bytes(b) - bytes(a))
    .slice(0, ctx.tasks.perGroup)
    .includes(name);
}

/**
 * Makes raw_<name>: the rows ingest's vital check kept (in one process), or the workbook read here.
 * `release` frees kept rows once create_<name>_clean.sql has read them.
 */
async function readRaw(
  ctx: AssetContext,
  db: Db,
  name: InputName,
  path: string,
): Promise<{ sheet: SheetSummary; release?: () => Promise<void> }> {
  const spec = SOURCES[name];
  // In one process, ingest's vital check read the same bytes whole: its rows are taken, not read again.
  const dataVersion = ctx.materialization(`raw_${name}`).dataVersion;
  const readOnce = ctx.readOnce;
  const kept = readOnce
    ? await timed(`clean: take the rows of ${spec.file} read at ingest`, () =>
        readOnce.take(ctx.run.runId, spec, dataVersion, db, `raw_${name}`),
      )
    : null;
  if (kept) return kept;
  return { sheet: await readHere(ctx, db, spec, path) };
}

/**
 * Reads a raw workbook into the table raw_<name> through DuckDB's appender: streamed on this
 * thread, or parsed on a worker thread that sends its rows in batches, appended here as they come.
 * Bounded in bytes, rows, columns, cell length and time; every part's CRC is checked as it is parsed.
 */
async function readHere(ctx: AssetContext, db: Db, spec: SourceSpec, path: string): Promise<SheetSummary> {
  const name = spec.name;
  const sink = await db.appendTo(`raw_${name}`, spec.columns);
  try {
    if (!offThread(ctx, name))
      return await timed(`clean: read ${spec.file} here`, () => readSheetInto(path, spec, ctx.limits, sink));
    return await timed(`clean: read ${spec.file} on a worker`, () =>
      streamTask(
        ctx.tasks,
        readSheetBatches,
        [path, spec, ctx.limits],
        (batch) => {
          replayBatch(batch, sink);
        },
        { timeoutMs: ctx.limits.maxMillis + 5_000, label: spec.file, group: ctx.run.partition },
      ),
    );
  } finally {
    sink.close();
  }
}

/**
 * Reads one raw workbook into raw_<name>, then runs create_<name>_clean.sql. Records rows read,
 * blank rows, ignored columns and the sheet read (and, when the expected sheet was absent, the
 * only worksheet read instead: the expected_sheet_present check reports it).
 */
export async function cleanWorkbook(ctx: AssetContext, name: InputName): Promise<ComputeResult> {
  const raw = await ctx.inputFile(`raw_${name}`);
  const db = await ctx.db();
  const { sheet, release } = await readRaw(ctx, db, name, raw);
  try {
    await timed(`clean: create ${name}_clean`, () => db.run(ctx.sql(`create_${name}_clean`)));
  } finally {
    await release?.();
  }
  return {
    kind: 'table',
    metadata: {
      rawRows: sheet.rowCount + sheet.blankRows,
      blankRows: sheet.blankRows,
      sheet: sheet.sheetRead,
      ...(sheet.sheetFallback ? { sheetFallback: sheet.sheetFallback } : {}),
      ...(sheet.extraColumns.length ? { ignoredColumns: sheet.extraColumns } : {}),
    },
  };
}

/** The check every cleaned asset has: its export had the expected sheet (else its only worksheet was read, and named here). */
export function expectedSheetPresent(ctx: AssetContext): {
  passed: boolean;
  metadata: Record<string, unknown>;
  message?: string;
} {
  const m = ctx.materialization(ctx.asset.key).metadata;
  const fallback = m.sheetFallback as { expected: string; read: string } | undefined;
  if (!fallback) return { passed: true, metadata: { sheetRead: m.sheet } };
  return {
    passed: false,
    metadata: { expected: fallback.expected, sheetRead: fallback.read },
    message: `no sheet "${fallback.expected}": its only worksheet, "${fallback.read}", was read`,
  };
}
