import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BottleneckError,
  ERROR_CODES,
  createError,
  isClassifiedCode,
  withDetails,
  type ErrorCode,
  assetErrorBoundary,
  errorClassOf,
  isBottleneckError,
  isRetriable,
  isTransientIoError,
  progressOf,
} from './index.js';

const DOC = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));

/** The rows of the table in docs/errors.md: code and the retriable column's first word. */
function documentedCodes(): { code: string; retriable: boolean }[] {
  const rows: { code: string; retriable: boolean }[] = [];
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const m = /^\|\s*`(BN_ERR_[A-Z_]+)`\s*\|\s*(yes|no)\b/.exec(line);
    if (m) rows.push({ code: m[1]!, retriable: m[2] === 'yes' });
  }
  return rows;
}

describe('docs/errors.md and the registry', () => {
  it('documents every code of ERROR_CODES and no other', () => {
    const documented = documentedCodes().map((r) => r.code);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('documents each code once', () => {
    const documented = documentedCodes().map((r) => r.code);
    expect(documented.length).toBe(new Set(documented).size);
  });

  it('gives each code the retriable flag of the registry', () => {
    const documented = Object.fromEntries(documentedCodes().map((r) => [r.code, r.retriable]));
    const registry = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, v]) => [code, v.retriable]));
    expect(documented).toEqual(registry);
  });

  it('names codes BN_ERR_<AREA>_<WHAT>', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^BN_ERR_[A-Z]+(?:_[A-Z]+)*$/);
  });
});

describe('BottleneckError', () => {
  it('carries code, message, name and the retriable flag of its code', () => {
    const e = new BottleneckError('BN_ERR_STORE_IO', 'reading x failed: EIO');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('BottleneckError');
    expect(e.code).toBe('BN_ERR_STORE_IO');
    expect(e.message).toBe('reading x failed: EIO');
    expect(e.retriable).toBe(true);
    expect(new BottleneckError('BN_ERR_INPUT_BAD_VALUE', 'm').retriable).toBe(false);
  });

  it('lets the thrower classify retriability only for a classified code (a conflict is a store error that must not retry)', () => {
    expect(new BottleneckError('BN_ERR_STORE_IO', 'm', { retriable: false }).retriable).toBe(false);
    expect(new BottleneckError('BN_ERR_ASSET_FAILED', 'm', { retriable: true }).retriable).toBe(true);
    expect(isClassifiedCode('BN_ERR_STORE_IO')).toBe(true);
    expect(isClassifiedCode('BN_ERR_INPUT_BAD_VALUE')).toBe(false);
  });

  it('keeps the retriability of the code for every other code, whatever the call site says', () => {
    expect(new BottleneckError('BN_ERR_INPUT_BAD_VALUE', 'm', { retriable: true }).retriable).toBe(false);
    expect(new BottleneckError('BN_ERR_PUBLISH_LOCKED', 'm', { retriable: false }).retriable).toBe(true);
    for (const [code, spec] of Object.entries(ERROR_CODES) as [ErrorCode, (typeof ERROR_CODES)[ErrorCode]][])
      if (!('classified' in spec))
        expect(new BottleneckError(code, 'm', { retriable: !spec.retriable }).retriable).toBe(spec.retriable);
  });

  it('createError: details typed by code, retriable only where the code is classified (else a compile error)', () => {
    const e = createError('BN_ERR_STORE_IO', 'object x already exists', {
      retriable: false,
      details: { conflict: true },
    });
    expect([e.code, e.retriable, e.details?.conflict]).toEqual(['BN_ERR_STORE_IO', false, true]);
    const locked = createError('BN_ERR_PUBLISH_LOCKED', 'm', {
      // @ts-expect-error retriability belongs to the code BN_ERR_PUBLISH_LOCKED
      retriable: false,
    });
    expect(locked.retriable).toBe(true);
    // @ts-expect-error BN_ERR_CHECK_FAILED declares no `conflict` detail
    createError('BN_ERR_CHECK_FAILED', 'm', { details: { conflict: true } });
    // @ts-expect-error failedChecks is a list of check keys
    createError('BN_ERR_CHECK_FAILED', 'm', { details: { failedChecks: 'a.b' } });
  });

  it('createError: a detail its code does not declare does not compile, even spread, in a variable or copied from another error', () => {
    const maybe = String(Date.now()) === '';
    // @ts-expect-error a conditional spread of a detail BN_ERR_CHECK_FAILED does not declare
    createError('BN_ERR_CHECK_FAILED', 'm', { details: { failedChecks: [], ...(maybe ? { conflict: true } : {}) } });
    const extra = { failedChecks: ['a.b'], conflict: true };
    // @ts-expect-error a variable holding a detail BN_ERR_CHECK_FAILED does not declare
    createError('BN_ERR_CHECK_FAILED', 'm', { details: extra });
    const store = createError('BN_ERR_STORE_IO', 'm', { retriable: false, details: { status: 503 } });
    // @ts-expect-error another code's details (every detail any code has) copied wholesale
    createError('BN_ERR_INFRA_UNAVAILABLE', 'm', { details: { ...store.details, budgetMs: 1 } });
    // @ts-expect-error BN_ERR_INPUT_BAD_VALUE declares no HTTP status
    createError('BN_ERR_INPUT_BAD_VALUE', 'm', { details: { status: 400 } });
    // What a code declares, spread or not, and the stage's progress (any code), compile and are kept.
    const e = createError('BN_ERR_INFRA_UNAVAILABLE', 'm', {
      details: { ...progressOf({ checks: [], failedChecks: ['a.b'], status: 503 }), budgetMs: 1 },
    });
    expect(e.details).toEqual({ checks: [], failedChecks: ['a.b'], budgetMs: 1 });
    const io = createError('BN_ERR_STORE_IO', 'm', {
      details: { ...(maybe ? {} : { retryAfterMs: 2000 }), status: 429 },
    });
    expect([io.retriable, io.details?.retryAfterMs, io.details?.status]).toEqual([true, 2000, 429]);
  });

  it('withDetails: the same error (code, message, cause, cell, retriability) with more details', () => {
    const cause = new Error('root');
    const e = createError('BN_ERR_STORE_IO', 'm', { cause, retriable: false, details: { status: 403 } });
    const more = withDetails(e, { details: { checks: [] }, stage: 'clean' });
    expect(more).toMatchObject({ code: 'BN_ERR_STORE_IO', message: 'm', retriable: false, stage: 'clean' });
    expect(more.cause).toBe(cause);
    expect(more.details).toEqual({ status: 403, checks: [] });
  });

  it('keeps location, asset, stage, details and cause', () => {
    const cause = new Error('root');
    const location = { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 };
    const e = new BottleneckError('BN_ERR_INPUT_BAD_VALUE', 'm', {
      cause,
      location,
      asset: 'erp_clean',
      stage: 'clean',
      details: { attempts: 1 },
    });
    expect(e.cause).toBe(cause);
    expect(e.location).toEqual(location);
    expect(e.asset).toBe('erp_clean');
    expect(e.stage).toBe('clean');
    expect(e.details).toEqual({ attempts: 1 });
  });

  it('leaves unset what it was not given, and has no cause without one', () => {
    const e = new BottleneckError('BN_ERR_USAGE', 'm');
    expect([e.location, e.asset, e.stage, e.details]).toEqual([undefined, undefined, undefined, undefined]);
    expect('cause' in e).toBe(false);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ name: 'BottleneckError', code: 'BN_ERR_USAGE', retriable: false });
  });

  it('is recognised by isBottleneckError, and nothing else is', () => {
    expect(isBottleneckError(new BottleneckError('BN_ERR_USAGE', 'm'))).toBe(true);
    expect(isBottleneckError(Object.assign(new Error('m'), { code: 'BN_ERR_USAGE' }))).toBe(false);
    expect(isBottleneckError('BN_ERR_USAGE')).toBe(false);
  });
});

describe('isRetriable', () => {
  it("follows the error's retriable property", () => {
    expect(isRetriable(new BottleneckError('BN_ERR_STORE_IO', 'm'))).toBe(true);
    expect(isRetriable(new BottleneckError('BN_ERR_MAIL_SEND', 'm'))).toBe(true);
    expect(isRetriable(new BottleneckError('BN_ERR_KEY_INVALID', 'm'))).toBe(false);
    expect(isRetriable(new BottleneckError('BN_ERR_STORE_IO', 'm', { retriable: false }))).toBe(false);
    expect(isRetriable(Object.assign(new Error('kafka'), { retriable: true }))).toBe(true);
  });

  it('never retries programmer errors, even when they claim to be retriable', () => {
    for (const E of [TypeError, ReferenceError, SyntaxError, RangeError]) {
      expect(isRetriable(Object.assign(new E('bug'), { retriable: true }))).toBe(false);
    }
  });

  it('does not retry unknown errors or thrown non-errors', () => {
    expect(isRetriable(new Error('m'))).toBe(false);
    expect(isRetriable('retriable')).toBe(false);
    expect(isRetriable(null)).toBe(false);
    expect(isRetriable(undefined)).toBe(false);
  });

  it("isTransientIoError knows Node's transient codes and nothing else", () => {
    for (const code of [
      'EAGAIN',
      'EBUSY',
      'EMFILE',
      'ENFILE',
      'ETIMEDOUT',
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'EIO',
    ]) {
      expect(isTransientIoError(Object.assign(new Error(code), { code }))).toBe(true);
    }
    for (const code of ['ENOENT', 'EACCES', 'EEXIST', 'BN_ERR_STORE_IO']) {
      expect(isTransientIoError(Object.assign(new Error(code), { code }))).toBe(false);
    }
    expect(isTransientIoError(null)).toBe(false);
  });
});

describe('assetErrorBoundary', () => {
  it('wraps an unexpected error in BN_ERR_ASSET_FAILED naming the asset and stage, keeping the cause', () => {
    const cause = new Error('division by zero');
    const e = assetErrorBoundary('analytics', 'wine_price_zscores', cause);
    expect(e).toBeInstanceOf(BottleneckError);
    expect(e.code).toBe('BN_ERR_ASSET_FAILED');
    expect(e.message).toBe('asset wine_price_zscores (stage analytics) failed: division by zero');
    expect(e.cause).toBe(cause);
    expect(e.asset).toBe('wine_price_zscores');
    expect(e.stage).toBe('analytics');
    expect(e.retriable).toBe(false);
  });

  it('wraps a thrown non-error by its text', () => {
    const e = assetErrorBoundary('merge', 'merged_with_revenue', 'oops');
    expect(e.message).toBe('asset merged_with_revenue (stage merge) failed: oops');
    expect(e.cause).toBe('oops');
  });

  it('makes the wrapper retriable when the cause is a transient I/O error or retriable', () => {
    expect(
      assetErrorBoundary('clean', 'erp_clean', Object.assign(new Error('busy'), { code: 'EBUSY' })).retriable,
    ).toBe(true);
    expect(
      assetErrorBoundary('clean', 'erp_clean', Object.assign(new Error('s3'), { retriable: true })).retriable,
    ).toBe(true);
    expect(assetErrorBoundary('clean', 'erp_clean', new TypeError('x is undefined')).retriable).toBe(false);
  });

  it('keeps the code, message, location, details, cause and retriable flag of a BottleneckError and adds asset and stage', () => {
    const cause = new Error('root');
    const location = { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 };
    const inner = new BottleneckError(
      'BN_ERR_INPUT_BAD_VALUE',
      'erp.xlsx, sheet "Sheet1", column "price", row 12: bad',
      { cause, location, details: { failedChecks: ['a.b'] } },
    );
    const e = assetErrorBoundary('clean', 'erp_clean', inner);
    expect(e).toMatchObject({
      code: 'BN_ERR_INPUT_BAD_VALUE',
      message: inner.message,
      location,
      details: { failedChecks: ['a.b'] },
      retriable: false,
      asset: 'erp_clean',
      stage: 'clean',
    });
    expect(e.cause).toBe(cause);
    const retriable = assetErrorBoundary('clean', 'erp_clean', new BottleneckError('BN_ERR_STORE_IO', 'm'));
    expect(retriable.retriable).toBe(true);
  });

  it('does not rename an error that already names its asset and stage', () => {
    const inner = new BottleneckError('BN_ERR_CHECK_FAILED', 'm', { asset: 'web_clean', stage: 'clean' });
    expect(assetErrorBoundary('merge', 'merged_with_revenue', inner)).toBe(inner);
    const half = new BottleneckError('BN_ERR_CHECK_FAILED', 'm', { asset: 'web_clean' });
    expect(assetErrorBoundary('merge', 'merged_with_revenue', half)).toMatchObject({
      asset: 'web_clean',
      stage: 'merge',
    });
  });

  it('errorClassOf names the class of what was thrown', () => {
    expect(errorClassOf(new BottleneckError('BN_ERR_USAGE', 'm'))).toBe('BottleneckError');
    expect(errorClassOf(new TypeError('m'))).toBe('TypeError');
    expect(errorClassOf('m')).toBe('string');
  });
});

describe('defined and errorField', () => {
  it('defined passes a value through and names what is missing', async () => {
    const { defined } = await import('./index.js');
    expect(defined(0, 'zero')).toBe(0);
    expect(() => defined(new Map<string, number>().get('a'), 'the count of a')).toThrow(
      'internal: the count of a is missing',
    );
  });
  it('errorField reads a field of anything thrown', async () => {
    const { errorField } = await import('./index.js');
    expect(errorField(Object.assign(new Error('x'), { code: 'E1' }), 'code')).toBe('E1');
    expect(errorField('text', 'code')).toBeUndefined();
    expect(errorField(null, 'code')).toBeUndefined();
  });
});
