import { ASSETS, BottleneckError, carry, isBottleneckError, layout, makeEvent, type ObjectStore, type PipelineEvent } from '@bottleneck/shared';
import type { StageContext, StageHandler } from '@bottleneck/shared/stage/context';

/** What the manifest, written last, says of a published set. */
export interface Manifest {
  runId: string;
  partition: string;
  publishedAt: string;
  files: { name: string; key: string; bytes: number; sha256: string; asset: string }[];
  /** Data version of every asset of the run. */
  assets: Record<string, string>;
  checks: { passed: number; warnings: string[] };
}

/** A lock older than this is a crashed publisher's: it is taken over. */
export const STALE_LOCK_MS = 10 * 60_000;

/**
 * Takes the month's publish lock with a conditional write (If-None-Match): a second run of the
 * same month publishing at the same time gets BN_ERR_PUBLISH_LOCKED (retriable: it waits and
 * tries again) instead of interleaving its files with the first's. The same run (a redelivery)
 * and a stale lock pass.
 */
export async function acquirePublishLock(store: ObjectStore, partition: string, runId: string, now: Date): Promise<() => Promise<void>> {
  const key = layout.publishLock(partition);
  const body = JSON.stringify({ runId, since: now.toISOString() }) + '\n';
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await store.put(key, body, { ifNoneMatch: true });
      return () => store.delete(key);
    } catch (e) {
      if (!isBottleneckError(e) || !e.details?.conflict) throw e;
      const held = JSON.parse((await store.get(key).catch(() => Buffer.from('{}'))).toString('utf8')) as { runId?: string; since?: string };
      if (held.runId === runId) return () => store.delete(key);
      if (held.since && now.getTime() - Date.parse(held.since) > STALE_LOCK_MS) {
        await store.delete(key);
        continue;
      }
      throw new BottleneckError('BN_ERR_PUBLISH_LOCKED', `run ${held.runId ?? '?'} is publishing ${partition} (since ${held.since ?? '?'}); run ${runId} will try again`, { retriable: true });
    }
  }
  throw new BottleneckError('BN_ERR_PUBLISH_LOCKED', `could not take the publish lock of ${partition}`, { retriable: true });
}

/**
 * publisher: on analysed, copies the run's outputs from staging to extracts/<partition>/, removes
 * files of an earlier run that this one does not produce, and writes `_manifest.json` last: a
 * reader that trusts the manifest never sees a half-published set.
 */
export const publisherStage: StageHandler = {
  stage: 'publisher',
  consumes: ['analysed'],
  async handle(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]> {
    const t0 = performance.now();
    const { partition, runId } = event;
    const release = await acquirePublishLock(ctx.store, partition, runId, ctx.now());
    try {
      return await publish(event, ctx, t0);
    } finally {
      await release();
    }
  },
};

/** Copies the run's outputs to extracts/, removes older ones, writes the manifest last. */
async function publish(event: PipelineEvent, ctx: StageContext, t0: number): Promise<PipelineEvent[]> {
  const { partition, runId } = event;
  const files: Manifest['files'] = [];
  for (const a of ASSETS.filter((x) => x.publishAs)) {
    if (!event.materializations[a.key]) throw new Error(`event has no materialization of ${a.key}`);
    const name = a.publishAs!;
    const body = await ctx.store.getStream(layout.staging(partition, runId, name));
    const put = await ctx.store.putStream(layout.extracts(partition, name), body);
    files.push({ name, key: put.key, bytes: put.bytes, sha256: put.sha256, asset: a.key });
  }
  const keep = new Set([...files.map((f) => f.key), layout.manifest(partition)]);
  for (const o of await ctx.store.list(layout.extractsPrefix(partition))) if (!keep.has(o.key)) await ctx.store.delete(o.key);
  const manifest: Manifest = {
    runId, partition, publishedAt: ctx.now().toISOString(), files,
    assets: Object.fromEntries(Object.entries(event.materializations).map(([k, m]) => [k, m.dataVersion])),
    checks: {
      passed: event.checks.filter((c) => c.passed).length,
      warnings: event.checks.filter((c) => !c.passed && c.severity === 'WARN').map((c) => `${c.asset}.${c.check}`),
    },
  };
  const put = await ctx.store.put(layout.manifest(partition), JSON.stringify(manifest, null, 2) + '\n', { contentType: 'application/json' });
  const base = carry(event);
  base.materializations.extracts = {
    location: put.key, dataVersion: put.sha256,
    metadata: { bytes: put.bytes, files: files.length, durationMs: Math.round(performance.now() - t0) },
  };
  ctx.progress?.onAsset?.({ stage: 'publisher', asset: 'extracts', materialization: base.materializations.extracts, runId });
  return [makeEvent('published', { ...base, payload: { manifestKey: put.key, files: files.map(({ key, bytes, sha256 }) => ({ key, bytes, sha256 })) } }, ctx.now())];
}

