import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  BottleneckError, INPUT_NAMES, SOURCES, carry, layout, makeEvent, type CheckResult, type InputName,
  type Materialization, type PipelineEvent,
} from '@bottleneck/shared';
import { checkHeader } from '@bottleneck/shared/excel/read';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';
import { checkResult, gate } from '@bottleneck/shared/stage/checks';
import { timed } from '@bottleneck/shared/profile';

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The vital check of one dropped file: present, within bounds, an intact xlsx with its sheet and columns; its data version is its content hash. */
async function arrive(ctx: StageContext, partition: string, name: InputName) {
  const t0 = performance.now();
  const key = layout.incoming(partition, name);
  const display = SOURCES[name].file;
  if (!(await ctx.store.head(key))) {
    throw new BottleneckError('BN_ERR_INPUT_MISSING', `${display} is missing: expected at ${ctx.store.describe(key)} (the month needs erp.xlsx, web.xlsx and liaison.xlsx)`, {
      location: { file: display }, asset: `raw_${name}`, stage: 'ingest',
    });
  }
  const local = await ctx.store.getToFile(key);
  try {
    // Vital check: size, zip directory and CRCs, the required sheet and header columns.
    const header = await checkHeader(local.path, SOURCES[name], ctx.limits).catch((e: unknown) => {
      if (e instanceof BottleneckError) throw new BottleneckError(e.code, e.message, { ...(e.location ? { location: e.location } : {}), asset: `raw_${name}`, stage: 'ingest', cause: e });
      throw e;
    });
    const m: Materialization = {
      location: key,
      dataVersion: await timed(`ingest: sha256 of ${display}`, () => sha256(local.path)),
      metadata: { bytes: header.zip.bytes, zipEntries: header.zip.entries.length, sheet: header.sheetRead, durationMs: Math.round(performance.now() - t0) },
    };
    return { name, m };
  } finally {
    await local.release();
  }
}

/**
 * ingest: on a trigger, checks that the month's three exports are in incoming/<partition>/ and
 * intact (vital check), records them as raw_erp, raw_web, raw_liaison, and emits `file-arrived`.
 */
export const ingestStage: StageHandler = {
  stage: 'ingest',
  consumes: ['trigger'],
  async handle(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
    // Checked together, reported in a fixed order: the same bad month always gives the same error.
    const settled = await Promise.allSettled(INPUT_NAMES.map((n) => arrive(ctx, event.partition, n)));
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
    const arrived = settled.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof arrive>>>).value);
    const base = carry(event);
    const checks: CheckResult[] = [];
    for (const { name, m } of arrived) {
      base.materializations[`raw_${name}`] = m;
      ctx.progress?.onAsset?.({ stage: 'ingest', asset: `raw_${name}`, materialization: m, runId: event.runId });
      const c = checkResult(`raw_${name}`, 'vital', true, { bytes: m.metadata.bytes });
      checks.push(c);
      ctx.progress?.onCheck?.({ ...c, runId: event.runId });
    }
    gate('ingest', checks);
    const files = Object.fromEntries(arrived.map(({ name, m }) => [name, { key: m.location, sha256: m.dataVersion, bytes: m.metadata.bytes ?? 0 }]));
    return [makeEvent('file-arrived', { ...base, checks: [...base.checks, ...checks], payload: { files: files as never } }, ctx.now())];
  },
};
