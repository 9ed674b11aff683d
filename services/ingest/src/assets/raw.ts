import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createError, type InputName, isBottleneckError, layout, SOURCES } from '@bottleneck/shared';
import { defineAsset, errorCheck, type AssetDefinition } from '@bottleneck/shared/assets/define';
import { checkHeader } from '@bottleneck/shared/excel/read';

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
          const path = await ctx.inputFile(key);
          try {
            // In one process, the whole read (its rows kept for clean) checks all this check does;
            // when it fails, the check itself says why, as in the services.
            const whole = await ctx.readOnce?.keep(
              ctx.run.runId,
              SOURCES[name],
              ctx.materialization(key).dataVersion,
              path,
              ctx.limits,
            );
            const header = whole ?? (await checkHeader(path, SOURCES[name], ctx.limits));
            return { passed: true, metadata: { zipEntries: header.zip.entries.length, sheet: header.sheetRead } };
          } catch (e) {
            if (!isBottleneckError(e)) throw e;
            return {
              passed: false,
              message: e.message,
              error: { code: e.code, ...(e.location ? { location: e.location } : {}) },
            };
          }
        },
      }),
    ],
    async compute(ctx) {
      const objectKey = layout.incoming(ctx.run.partition, name);
      const head = await ctx.store.head(objectKey);
      const pinned = ctx.run.pins?.[objectKey];
      if (head && pinned !== undefined && head.etag !== pinned) {
        // The upload that started this run was replaced since: the run of the newer files has the month.
        throw createError(
          'BN_ERR_RUN_SUPERSEDED',
          `run ${ctx.run.runId} of ${ctx.run.partition} is not run: ${display} changed since the upload that started it; the run of the new version has the month`,
          { location: { file: display } },
        );
      }
      if (!head) {
        throw createError(
          'BN_ERR_INPUT_MISSING',
          `${display} is missing: expected at ${ctx.store.describe(objectKey)} (the month needs erp.xlsx, web.xlsx and liaison.xlsx)`,
          {
            location: { file: display },
          },
        );
      }
      // Read the version the run pinned (or saw): If-Match, so a file replaced in between is not read half-new.
      const path = await ctx.fetch(objectKey, { ifMatch: pinned ?? head.etag }).catch((e: unknown) => {
        if (isBottleneckError(e) && e.details?.precondition) {
          throw createError(
            'BN_ERR_RUN_SUPERSEDED',
            `run ${ctx.run.runId} of ${ctx.run.partition} is not run: ${display} changed while it was being read; the run of the new version has the month`,
            { location: { file: display } },
          );
        }
        throw e;
      });
      const [{ size }, dataVersion] = await Promise.all([stat(path), sha256(path)]);
      // The version read (its ETag): the publisher checks it is still the one in incoming/ before publishing.
      return {
        kind: 'object',
        path,
        materialization: {
          location: objectKey,
          dataVersion,
          metadata: { bytes: size, etag: head.etag, durationMs: 0 },
        },
      };
    },
  });
}

export const rawErp = rawAsset('erp');
export const rawWeb = rawAsset('web');
export const rawLiaison = rawAsset('liaison');
