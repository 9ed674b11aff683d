import { layout, type Materialization } from '@bottleneck/shared';
import { defineAsset, type AssetContext } from '@bottleneck/shared/assets/define';
import { acquirePublishLock } from '../lock.js';

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

/** Copies the run's published files to extracts/<partition>/, removes older ones, writes the manifest last. */
async function publish(ctx: AssetContext): Promise<Materialization> {
  const t0 = performance.now();
  const { partition, runId } = ctx.run;
  const { materializations, checks } = ctx.lineage();
  const files: Manifest['files'] = [];
  for (const key of ctx.asset.deps) {
    const pub = ctx.materialization(key).metadata.publish as { as: string; location: string } | undefined;
    if (!pub) throw new TypeError(`asset ${key} has no published form (publishAs)`);
    const body = await ctx.store.getStream(pub.location);
    const put = await ctx.store.putStream(layout.extracts(partition, pub.as), body);
    files.push({ name: pub.as, key: put.key, bytes: put.bytes, sha256: put.sha256, asset: key });
  }
  const keep = new Set([...files.map((f) => f.key), layout.manifest(partition)]);
  for (const o of await ctx.store.list(layout.extractsPrefix(partition))) if (!keep.has(o.key)) await ctx.store.delete(o.key);
  const manifest: Manifest = {
    runId, partition, publishedAt: ctx.now().toISOString(), files,
    assets: Object.fromEntries(Object.entries(materializations).map(([k, m]) => [k, m.dataVersion])),
    checks: {
      passed: checks.filter((c) => c.passed).length,
      warnings: checks.filter((c) => !c.passed && c.severity === 'WARN').map((c) => `${c.asset}.${c.check}`),
    },
  };
  const put = await ctx.store.put(layout.manifest(partition), JSON.stringify(manifest, null, 2) + '\n', { contentType: 'application/json' });
  return {
    location: put.key, dataVersion: put.sha256,
    metadata: { bytes: put.bytes, files: files.map(({ key, bytes, sha256 }) => ({ key, bytes, sha256 })), durationMs: Math.round(performance.now() - t0) },
  };
}

/** The published set under extracts/<partition>/, manifest written last, one run of a month at a time. */
export const extracts = defineAsset({
  key: 'extracts',
  deps: ['merged_with_revenue', 'premium_wines', 'ordinary_wines', 'revenue_report'],
  kind: 'sink',
  file: '_manifest.json',
  module: import.meta.url,
  description: 'the published set under extracts/<partition>/, manifest written last',
  async compute(ctx) {
    const release = await acquirePublishLock(ctx.store, ctx.run.partition, ctx.run.runId, ctx.now());
    try {
      return { kind: 'object', materialization: await publish(ctx) };
    } finally {
      await release();
    }
  },
});
