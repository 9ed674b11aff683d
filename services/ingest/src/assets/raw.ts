import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BottleneckError, isBottleneckError, layout, SOURCES, type InputName } from '@bottleneck/shared';
import { defineAsset, errorCheck, type AssetDefinition } from '@bottleneck/shared/assets/define';
import { checkHeader } from '@bottleneck/shared/excel/peek';

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * A dropped export as an asset: observed where the user put it (incoming/<partition>/), its data
 * version its content hash. Its vital check (present, within bounds, an intact xlsx with the
 * required sheet and header columns) fails with the input error it found, naming file, sheet,
 * column and row: a blocking ERROR that stops the run.
 */
function rawAsset(name: InputName): AssetDefinition {
  const key = `raw_${name}` as const;
  const display = SOURCES[name].file;
  return defineAsset({
    key,
    kind: 'source',
    file: display,
    module: import.meta.url,
    description: `${display} as dropped in incoming/<partition>/; data version = content hash`,
    checks: [
      errorCheck('vital', 'file present, within size bounds, an intact xlsx with the required sheet and columns', {
        async run(ctx) {
          const { path } = await ctx.input(key);
          try {
            const zip = await checkHeader(path!, SOURCES[name], ctx.limits);
            return { passed: true, metadata: { zipEntries: zip.entries.length } };
          } catch (e) {
            if (!isBottleneckError(e)) throw e;
            return { passed: false, message: e.message, error: { code: e.code, ...(e.location ? { location: e.location } : {}) } };
          }
        },
      }),
    ],
    async compute(ctx) {
      const objectKey = layout.incoming(ctx.run.partition, name);
      const head = await ctx.store.head(objectKey);
      if (!head) {
        throw new BottleneckError('BN_ERR_INPUT_MISSING', `${display} is missing: expected at ${ctx.store.describe(objectKey)} (the month needs erp.xlsx, web.xlsx and liaison.xlsx)`, {
          location: { file: display },
        });
      }
      const path = await ctx.fetch(objectKey);
      const [{ size }, dataVersion] = await Promise.all([stat(path), sha256(path)]);
      // The version read (its ETag): the publisher checks it is still the one in incoming/ before publishing.
      return { kind: 'object', path, materialization: { location: objectKey, dataVersion, metadata: { bytes: size, etag: head.etag, durationMs: 0 } } };
    },
  });
}

export const rawErp = rawAsset('erp');
export const rawWeb = rawAsset('web');
export const rawLiaison = rawAsset('liaison');
