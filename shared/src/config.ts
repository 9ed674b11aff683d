import { BottleneckError } from './errors/index.js';
import type { ReadLimits } from './excel/read.js';

/** Environment variables that bound what one input file may cost, and the limit each sets. */
export const LIMIT_VARIABLES: Readonly<Record<string, { limit: keyof ReadLimits; meaning: string }>> = {
  BN_MAX_FILE_BYTES: { limit: 'maxBytes', meaning: 'largest input file accepted, bytes' },
  BN_MAX_UNCOMPRESSED_BYTES: { limit: 'maxUncompressedBytes', meaning: 'largest total expanded size of an xlsx, bytes' },
  BN_MAX_ROWS: { limit: 'maxRows', meaning: 'most data rows in one sheet' },
  BN_MAX_READ_MS: { limit: 'maxMillis', meaning: 'longest time reading one workbook may take, ms' },
};

/**
 * Reads the input limits from the environment. A variable that is set must be a positive whole
 * number; otherwise BN_ERR_CONFIG_INVALID names it. Unset variables keep the defaults.
 */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ReadLimits> {
  const out: Partial<ReadLimits> = {};
  for (const [name, { limit }] of Object.entries(LIMIT_VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
      throw new BottleneckError('BN_ERR_CONFIG_INVALID', `${name} must be a positive whole number (got ${JSON.stringify(raw)})`);
    }
    out[limit] = Number(raw);
  }
  return out;
}

/**
 * BN_EXCEL_WORKERS: worker threads that parse workbooks, or undefined ("auto" or unset) for the
 * caller's default (the CLI parses on its main thread: measured faster here at every size).
 */
export function workersFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.BN_EXCEL_WORKERS;
  if (raw === undefined || raw === '' || raw === 'auto') return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) > 16) {
    throw new BottleneckError('BN_ERR_CONFIG_INVALID', `BN_EXCEL_WORKERS must be "auto" or a whole number from 0 to 16 (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}
