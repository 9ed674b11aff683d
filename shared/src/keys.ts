import { createError } from './errors/index.js';

/** Input files of a month, by role. */
export const INPUT_NAMES = ['erp', 'web', 'liaison'] as const;
export type InputName = (typeof INPUT_NAMES)[number];

const MAX_KEY_BYTES = 1024;

/**
 * Refuses keys that could escape a prefix or a folder: empty, absolute, `..` or `.` segments,
 * backslashes, NUL or control characters, more than 1,024 bytes. Runs before any S3 call or file use.
 */
export function validateKey(key: string): string {
  // Keys come from events and notifications: the type is checked at run time too.
  const given: unknown = key;
  const bad = (why: string) =>
    createError('BN_ERR_KEY_INVALID', `object key ${JSON.stringify(String(given).slice(0, 200))} is refused: ${why}`);
  if (typeof given !== 'string') throw bad('it is not a string');
  if (key.length === 0) throw bad('it is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw bad(`it is longer than ${MAX_KEY_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw bad('it contains NUL or a control character');
  if (key.startsWith('/')) throw bad('it is absolute');
  if (key.includes('\\')) throw bad('it contains a backslash');
  const segs = key.split('/');
  if (segs.some((s) => s === '..' || s === '.')) throw bad('it contains a "." or ".." segment');
  if (segs.slice(0, -1).some((s) => s === '')) throw bad('it contains an empty segment');
  return key;
}

/** The bucket layout, shared by every adapter and service. */
export const layout = {
  incoming: (partition: string, name: InputName) => `incoming/${partition}/${name}.xlsx`,
  incomingPrefix: (partition: string) => `incoming/${partition}/`,
  staging: (partition: string, runId: string, file: string) => `staging/${partition}/${runId}/${file}`,
  /** A run's published set, immutable once written: extracts/<partition>/<run-id>/<file>. */
  extracts: (partition: string, runId: string, file: string) => `extracts/${partition}/${runId}/${file}`,
  extractsPrefix: (partition: string) => `extracts/${partition}/`,
  /** The manifest of a run's published set, written after its files. */
  manifest: (partition: string, runId: string) => `extracts/${partition}/${runId}/_manifest.json`,
  /** The one object readers follow: which run's set is the month's published set (switched last, atomically). */
  current: (partition: string) => `extracts/${partition}/_current.json`,
  deadLetter: (partition: string, runId: string) => `dead-letter/${partition}/${runId}.json`,
  /** ingest's numbered claims of a month: which version of its files each run took up (the latest is what is published). */
  ingestClaimsPrefix: (partition: string) => `state/ingest/${partition}/`,
  ingestClaimsRoot: 'state/ingest/',
  /** Held while a run publishes a month: two runs of one month never publish at once. */
  publishLock: (partition: string) => `state/publish/${partition}.lock`,
  /** The publisher's claim on one scheduled slot: fires once across replicas and restarts. */
  scheduleClaim: (partition: string, slot: Date) =>
    `state/schedule/${partition}/${slot.toISOString().replace(/[:.]/g, '-')}.json`,
};

/** The partition of an incoming object key, and which input it is; null for any other key. */
export function parseIncomingKey(key: string): { partition: string; name: InputName } | null {
  const m = /^incoming\/(\d{4}-(?:0[1-9]|1[0-2]))\/(erp|web|liaison)\.xlsx$/.exec(key);
  const [, partition, name] = m ?? [];
  return partition && name ? { partition, name: name as InputName } : null;
}
