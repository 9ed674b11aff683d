import { ASSETS, carry, layout, makeEvent, type PipelineEvent } from '@bottleneck/shared';
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
  },
};
