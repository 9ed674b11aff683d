import { ERROR_CODES, type ErrorCode } from './codes.js';

export { ERROR_CODES, type ErrorCode } from './codes.js';

/** Where in an input workbook a problem is. Row is the 1-based Excel row number. */
export interface CellLocation {
  file?: string;
  sheet?: string;
  column?: string;
  row?: number;
}

export interface BottleneckErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  location?: CellLocation;
  asset?: string;
  stage?: string;
  details?: Record<string, unknown>;
}

/**
 * The one error class of the pipeline. `retriable` is a property of the error; the retry helper
 * reads it and nothing else decides.
 *
 * @example
 * throw new BottleneckError('BN_ERR_INPUT_BAD_VALUE', 'erp.xlsx, sheet Sheet1, column price, row 12: "vingt euros" is not a number', { location })
 */
export class BottleneckError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly location?: CellLocation;
  readonly asset?: string;
  readonly stage?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: BottleneckErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BottleneckError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    if (options.location) this.location = options.location;
    if (options.asset) this.asset = options.asset;
    if (options.stage) this.stage = options.stage;
    if (options.details) this.details = options.details;
  }
}

export function isBottleneckError(e: unknown): e is BottleneckError {
  return e instanceof BottleneckError;
}

/** Programmer errors never retry. */
const PROGRAMMER_ERRORS = [TypeError, ReferenceError, SyntaxError, RangeError];

/** Whether an arbitrary thrown value should be retried. Unknown errors are not. */
export function isRetriable(e: unknown): boolean {
  if (PROGRAMMER_ERRORS.some((k) => e instanceof k)) return false;
  if (e && typeof e === 'object' && 'retriable' in e) return Boolean(e.retriable);
  return false;
}

/** Node's transient I/O codes: a file system or socket hiccup, worth another try. */
const TRANSIENT_IO = new Set([
  'EAGAIN',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EIO',
]);

export function isTransientIoError(e: unknown): boolean {
  return Boolean(e && typeof e === 'object' && 'code' in e && TRANSIENT_IO.has(String(e.code)));
}

/**
 * Wraps whatever an asset's code throws in an error that names the asset and keeps the cause
 * (Dagster's user_code_error_boundary). A BottleneckError keeps its code; it gains the asset name.
 */
export function assetErrorBoundary(stage: string, asset: string, e: unknown): BottleneckError {
  if (e instanceof BottleneckError) {
    if (e.asset && e.stage) return e;
    return new BottleneckError(e.code, e.message, {
      cause: e.cause,
      retriable: e.retriable,
      ...(e.location ? { location: e.location } : {}),
      ...(e.details ? { details: e.details } : {}),
      asset: e.asset ?? asset,
      stage: e.stage ?? stage,
    });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new BottleneckError('BN_ERR_ASSET_FAILED', `asset ${asset} (stage ${stage}) failed: ${msg}`, {
    cause: e,
    retriable: isRetriable(e) || isTransientIoError(e),
    asset,
    stage,
  });
}

/** The message of whatever was thrown: an Error's message, or the value as text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A name for the class of an error, for dead-letter records. */
export function errorClassOf(e: unknown): string {
  if (e instanceof BottleneckError) return e.name;
  if (e instanceof Error) return e.constructor.name;
  return typeof e;
}

/**
 * A value the code knows is there (a key just put in a map, an index inside its array's bounds),
 * checked: an invariant that breaks says which, instead of `undefined` travelling on.
 */
export function defined<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new TypeError(`internal: ${what} is missing`);
  return value;
}

/** A property of whatever was thrown (a code, a type, a cause), without trusting its shape. */
export function errorField(e: unknown, field: string): unknown {
  return typeof e === 'object' && e !== null ? (e as Record<string, unknown>)[field] : undefined;
}
