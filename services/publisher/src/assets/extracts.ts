import { BottleneckError, createError, layout, type Materialization } from '@bottleneck/shared';
import { defineAsset, type AssetContext } from '@bottleneck/shared/assets/define';
import { readCurrent, type CurrentPointer, type Manifest } from '@bottleneck/shared/published';
import { acquirePublishLock } from '../lock.js';

export type { Manifest } from '@bottleneck/shared/published';

/** Published sets kept per month besides the current one: a reader that has just followed the pointer still finds its files. */
export const KEEP_PUBLISHED_RUNS = 3;

// The runner's error boundary names the stage and the asset (publisher, extracts).
function superseded(ctx: AssetContext, why: string): BottleneckError {
  return createError('BN_ERR_RUN_SUPERSEDED', `run ${ctx.run.runId} of ${ctx.run.partition} is not published: ${why}`);
}

/** Whether the published set of `current` comes from a run that started after `run` (so `run` must not replace it). */
function newer(current: CurrentPointer, run: { runId: string; startedAt: string }): boolean {
  if (current.runId === run.runId) return false;
  return (
    current.runStartedAt > run.startedAt ||
    // Stryker disable next-line EqualityOperator: equal run ids returned above, so > and >= agree here.
    (current.runStartedAt === run.startedAt && current.runId > run.runId)
  );
}

/**
 * Publishes the run's files under their own immutable prefix extracts/<partition>/<run-id>/, then
 * its manifest, then switches the month's pointer (extracts/<partition>/_current.json) in one put:
 * a reader that follows the pointer sees the previous set or this one, never a mix. A run whose
 * input files changed since it read them, or that started before the run already published, is
 * superseded instead: a newer run has (or will have) the month.
 */
async function publish(ctx: AssetContext): Promise<Materialization> {
  const { partition, runId, startedAt } = ctx.run;
  const { materializations, checks } = ctx.lineage();
  const current = await readCurrent(ctx.store, partition);
  if (current && newer(current, ctx.run))
    throw superseded(
      ctx,
      `run ${current.runId}, which started later (${current.runStartedAt}), published the month already`,
    );
  for (const m of Object.values(materializations)) {
    const etag = m.metadata.etag;
    if (typeof etag !== 'string') continue;
    const now = await ctx.store.head(m.location);
    if (now?.etag !== etag)
      throw superseded(
        ctx,
        `${m.location} changed since this run read it; the run of the new version publishes the month`,
      );
  }
  // Every input's published form before the first copy: a missing one leaves nothing under the run's prefix.
  const published = ctx.asset.deps.map((key) => {
    const pub = ctx.materialization(key).metadata.publish as { as: string; location: string } | undefined;
    if (!pub) throw new TypeError(`asset ${key} has no published form (publishAs)`);
    return { key, pub };
  });
  const files: Manifest['files'] = [];
  for (const { key, pub } of published) {
    const put = await ctx.store.putStream(
      layout.extracts(partition, runId, pub.as),
      await ctx.store.getStream(pub.location),
    );
    files.push({ name: pub.as, key: put.key, bytes: put.bytes, sha256: put.sha256, asset: key });
  }
  const publishedAt = ctx.now().toISOString();
  const manifest: Manifest = {
    runId,
    partition,
    publishedAt,
    files,
    assets: Object.fromEntries(Object.entries(materializations).map(([k, m]) => [k, m.dataVersion])),
    checks: {
      passed: checks.filter((c) => c.passed).length,
      warnings: checks.filter((c) => !c.passed && c.severity === 'WARN').map((c) => `${c.asset}.${c.check}`),
    },
  };
  const manifestKey = layout.manifest(partition, runId);
  const put = await ctx.store.put(manifestKey, JSON.stringify(manifest, null, 2) + '\n', {
    contentType: 'application/json',
  });
  const pointer: CurrentPointer = {
    partition,
    runId,
    runStartedAt: startedAt,
    prefix: layout.extracts(partition, runId, ''),
    manifestKey,
    publishedAt,
    files,
  };
  // The switch: one object, written last.
  await ctx.store.put(layout.current(partition), JSON.stringify(pointer, null, 2) + '\n', {
    contentType: 'application/json',
  });
  await prune(ctx, partition, runId);
  return {
    location: manifestKey,
    dataVersion: put.sha256,
    metadata: {
      bytes: put.bytes,
      pointer: layout.current(partition),
      files: files.map(({ key, bytes, sha256 }) => ({ key, bytes, sha256 })),
      // durationMs: the runner measures the whole compute (persist), lock included.
      durationMs: 0,
    },
  };
}

/** Removes the published sets of older runs, keeping the current one and the KEEP_PUBLISHED_RUNS before it. */
async function prune(ctx: AssetContext, partition: string, currentRunId: string): Promise<void> {
  const prefix = layout.extractsPrefix(partition);
  const objects = await ctx.store.list(prefix);
  const runOf = (key: string) => key.slice(prefix.length).split('/');
  const runs = [
    ...new Set(
      objects
        .map((o) => runOf(o.key))
        .filter((p) => p.length > 1)
        .map((p) => p[0] ?? ''),
    ),
  ]
    .filter((r) => r !== currentRunId)
    .sort()
    .reverse();
  const gone = new Set(runs.slice(KEEP_PUBLISHED_RUNS));
  for (const o of objects) if (gone.has(runOf(o.key)[0] ?? '')) await ctx.store.delete(o.key);
}

/** The month's published set: the run's files under its own prefix, its manifest, and the pointer readers follow. */
export const extracts = defineAsset({
  key: 'extracts',
  // Every asset that declares publishAs: the graph resolves them (resolvePublishedInputs), no list kept here.
  deps: 'published',
  kind: 'sink',
  file: '_manifest.json',
  module: import.meta.url,
  description:
    'the published set under extracts/<partition>/<run-id>/, then the pointer extracts/<partition>/_current.json',
  async compute(ctx) {
    const release = await acquirePublishLock(ctx.store, ctx.run.partition, ctx.run.runId, ctx.now());
    try {
      return { kind: 'object', materialization: await publish(ctx) };
    } finally {
      await release();
    }
  },
});
