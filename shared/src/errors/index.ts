import type { CheckResult, Materialization } from '../events/index.js';
import { ERROR_CODES, isClassifiedCode, type ClassifiedCode, type ErrorCode } from './codes.js';

export { ERROR_CODES, isClassifiedCode, isErrorCode, type ClassifiedCode, type ErrorCode } from './codes.js';

/** Where in an input workbook a problem is. Row is the 1-based Excel row number. */
export interface CellLocation {
  file?: string;
  sheet?: string;
  column?: string;
  row?: number;
}

/** What any error that stops a stage carries: what the stage materialized and checked before it stopped. */
export interface StageProgressDetails {
  materializations?: Record<string, Materialization>;
  checks?: CheckResult[];
  /**
   * The blocking checks (`asset.check`) that stopped the stage: set by the check gate on the error it
   * raises, whatever its code (BN_ERR_CHECK_FAILED, or the input error a vital check stands for).
   */
  failedChecks?: string[];
}

/**
 * The details each code may carry, typed: a call site that reads `e.details.conflict` or
 * `e.details.materializations` gets its type, not `unknown`, and one that writes a detail its code
 * does not declare does not compile (through `createError`). Add a code's details here when it
 * gains some.
 */
export interface ErrorDetailsByCode {
  BN_ERR_STORE_IO: {
    /** A conditional write refused: the object exists (If-None-Match). */
    conflict?: boolean;
    /** A conditional read refused: the object changed (If-Match). */
    precondition?: boolean;
    status?: number;
    s3Code?: string;
    attempts?: number;
    requestId?: string;
    /** The server's Retry-After (a 429 or 503), in ms: the retry helper waits at least that long. */
    retryAfterMs?: number;
  };
  BN_ERR_MAIL_SEND: {
    status?: number;
    errors?: string[];
    /** The socket error code (ECONNREFUSED...) when SendGrid could not be reached. */
    network?: string;
    attempts?: number;
    /** SendGrid's Retry-After (a 429 or 5xx), in ms: the retry helper waits at least that long. */
    retryAfterMs?: number;
  };
  BN_ERR_RETRIES_EXHAUSTED: { attempts: number; spentMs: number };
  BN_ERR_CHECK_FAILED: { failedChecks: string[] };
  BN_ERR_EXPECTATION_FAILED: { failedChecks: string[] };
  BN_ERR_INFRA_UNAVAILABLE: { attempts?: number; spentMs?: number; budgetMs?: number };
}

/** The details of errors of code `C`: its own (ErrorDetailsByCode) and what a stage made before it stopped. */
export type DetailsOf<C extends ErrorCode> = StageProgressDetails &
  (C extends keyof ErrorDetailsByCode ? Partial<ErrorDetailsByCode[C]> : object);

/** Every detail any code declares, each with its type: what a reader of an error of unknown code sees. */
export type ErrorDetails = StageProgressDetails &
  AllOf<{ [C in keyof ErrorDetailsByCode]: Partial<ErrorDetailsByCode[C]> }[keyof ErrorDetailsByCode]>;

/** `A | B | C` as `A & B & C`: every code's details at once, derived so that a code added above is not forgotten. */
type AllOf<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

export interface BottleneckErrorOptions {
  cause?: unknown;
  /**
   * Only for the codes the registry marks `classified` (the adapter that met the failure tells a
   * 503 from a 403); for every other code the registry decides and this is ignored. Prefer
   * `createError`, where passing it for another code does not compile.
   */
  retriable?: boolean;
  location?: CellLocation;
  asset?: string;
  stage?: string;
  details?: ErrorDetails;
}

/**
 * The details `D` given for code `C`, with every key `C` does not declare turned into `never`: an
 * undeclared detail does not compile even where TypeScript skips its excess-property check (a
 * spread, a variable, details read from another error).
 */
export type DeclaredDetails<C extends ErrorCode, D> = [Exclude<keyof D, keyof DetailsOf<C>>] extends [never]
  ? D // (no `& {}` here: it would switch off TypeScript's check of an object that shares no key with D)
  : D & { [K in Exclude<keyof D, keyof DetailsOf<C>>]: never };

/** The options of an error of code `C`, as `createError` takes them: typed details, `retriable` only where classified. */
export type ErrorOptionsOf<C extends ErrorCode, D extends DetailsOf<C> = DetailsOf<C>> = Omit<
  BottleneckErrorOptions,
  'retriable' | 'details'
> & {
  details?: DeclaredDetails<C, D>;
} & (C extends ClassifiedCode ? { retriable?: boolean } : { retriable?: never });

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
  readonly details?: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: BottleneckErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BottleneckError';
    this.code = code;
    // The registry decides; only a classified code takes the thrower's classification.
    this.retriable = (isClassifiedCode(code) ? options.retriable : undefined) ?? ERROR_CODES[code].retriable;
    if (options.location) this.location = options.location;
    if (options.asset) this.asset = options.asset;
    if (options.stage) this.stage = options.stage;
    if (options.details) this.details = options.details;
  }
}

/**
 * Creates an error from the registry: its details are typed by its code, and `retriable` may be
 * given only for a code the registry marks `classified` (anything else does not compile).
 *
 * @example
 * throw createError('BN_ERR_STORE_IO', `object ${key} already exists`, { retriable: false, details: { conflict: true } });
 * throw createError('BN_ERR_CHECK_FAILED', 'blocking check failed in stage clean: ...', { details: { failedChecks } });
 */
export function createError<C extends ErrorCode, D extends DetailsOf<C> = DetailsOf<C>>(
  code: C,
  message: string,
  options?: ErrorOptionsOf<C, D>,
): BottleneckError {
  const { retriable, ...rest } = options ?? {};
  return new BottleneckError(code, message, { ...rest, ...(retriable !== undefined ? { retriable } : {}) });
}

/**
 * The same error with more details or another stage and asset (its code, message, cause, cell and
 * retriability kept): how a runner adds what a stage made before it stopped.
 */
export function withDetails(
  e: BottleneckError,
  more: { details?: ErrorDetails; asset?: string; stage?: string },
): BottleneckError {
  return new BottleneckError(e.code, e.message, {
    cause: e.cause,
    retriable: e.retriable,
    ...(e.location ? { location: e.location } : {}),
    ...((more.asset ?? e.asset) ? { asset: more.asset ?? e.asset } : {}),
    ...((more.stage ?? e.stage) ? { stage: more.stage ?? e.stage } : {}),
    ...(e.details || more.details ? { details: { ...e.details, ...more.details } } : {}),
  });
}

/**
 * What any error that stops a stage carries, taken from another error's details: how an error
 * re-raised under another code keeps the stage's progress without the details its code does not declare.
 */
export function progressOf(details: ErrorDetails | undefined): StageProgressDetails {
  return {
    ...(details?.materializations ? { materializations: details.materializations } : {}),
    ...(details?.checks ? { checks: details.checks } : {}),
    ...(details?.failedChecks ? { failedChecks: details.failedChecks } : {}),
  };
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
    return withDetails(e, { asset: e.asset ?? asset, stage: e.stage ?? stage });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return createError('BN_ERR_ASSET_FAILED', `asset ${asset} (stage ${stage}) failed: ${msg}`, {
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
