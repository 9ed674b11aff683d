import { assetSpec } from '../assets/graph.js';
import type { Materialization } from '../events/index.js';
import { layout } from '../keys.js';
import type { StageContext } from './context.js';

/**
 * Stores a local file as an asset's object under staging/<partition>/<run-id>/ and returns its
 * materialization (location, data version = sha256, metadata). Reports it to the progress listener.
 */
export async function materialize(
  ctx: StageContext,
  run: { runId: string; partition: string },
  asset: string,
  localPath: string,
  meta: { rowCount?: number; columns?: { name: string; type: string }[]; startedAt: number; [k: string]: unknown },
  file: string = assetSpec(asset).file,
): Promise<Materialization> {
  const key = layout.staging(run.partition, run.runId, file);
  const put = await ctx.store.putFile(key, localPath);
  const { startedAt, ...rest } = meta;
  const m: Materialization = {
    location: key,
    dataVersion: put.sha256,
    metadata: { ...rest, bytes: put.bytes, durationMs: Math.round(performance.now() - startedAt) },
  };
  ctx.progress?.onAsset?.({ stage: assetSpec(asset).stage, asset, materialization: m, runId: run.runId });
  return m;
}
