import { describe, expect, it } from 'vitest';
import { INPUT_NAMES, layout, parseIncomingKey, validateKey } from './keys.js';

const refused = (key: string, why: string) => {
  let caught: unknown;
  try {
    validateKey(key);
  } catch (e) {
    caught = e;
  }
  expect(caught).toMatchObject({
    code: 'BN_ERR_KEY_INVALID',
    retriable: false,
    message: `object key ${JSON.stringify(key.slice(0, 200))} is refused: ${why}`,
  });
};

describe('validateKey', () => {
  it('returns a safe key as it is', () => {
    for (const k of [
      'a',
      'incoming/2026-01/erp.xlsx',
      'staging/2026-01/run.1_x-y/erp_clean.parquet',
      'Ch\u00e2teau/caf\u00e9 \u2713.csv',
      'a..b/c.',
      '.hidden/x',
    ]) {
      expect(validateKey(k)).toBe(k);
    }
  });

  it('accepts 1,024 bytes and refuses 1,025, counting UTF-8 bytes, not characters', () => {
    expect(validateKey('k'.repeat(1024))).toHaveLength(1024);
    refused('k'.repeat(1025), 'it is longer than 1024 bytes');
    expect(validateKey('\u00e9'.repeat(512))).toHaveLength(512);
    refused('\u00e9'.repeat(513), 'it is longer than 1024 bytes');
  });

  it('names at most 200 characters of a refused key', () => {
    const key = `${'x'.repeat(300)}/../y`;
    refused(key, 'it contains a "." or ".." segment');
    expect(() => validateKey(key)).toThrow(`object key "${'x'.repeat(200)}" is refused`);
  });

  it('refuses what could escape a prefix or a folder, each with its reason', () => {
    refused('', 'it is empty');
    refused('/abs', 'it is absolute');
    refused('/', 'it is absolute');
    refused('../x', 'it contains a "." or ".." segment');
    refused('a/../../b', 'it contains a "." or ".." segment');
    refused('a/..', 'it contains a "." or ".." segment');
    refused('./a', 'it contains a "." or ".." segment');
    refused('a/./b', 'it contains a "." or ".." segment');
    refused('a//b', 'it contains an empty segment');
    refused('a\\..\\b', 'it contains a backslash');
    refused('a\u0000b', 'it contains NUL or a control character');
    refused('a\nb', 'it contains NUL or a control character');
    refused('a\u001fb', 'it contains NUL or a control character');
    refused('a\u007fb', 'it contains NUL or a control character');
  });

  it('refuses a key that is not a string with BN_ERR_KEY_INVALID (not a TypeError)', () => {
    expect(() => validateKey(undefined as unknown as string)).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_KEY_INVALID',
        message: 'object key "undefined" is refused: it is not a string',
      }),
    );
  });

  it('takes a prefix (an empty last segment) but no empty segment before it', () => {
    expect(validateKey('incoming/2026-01/')).toBe('incoming/2026-01/');
    refused('incoming//2026-01/', 'it contains an empty segment');
  });
});

describe('layout', () => {
  it('places each object where the services look for it', () => {
    expect(layout.incoming('2026-01', 'erp')).toBe('incoming/2026-01/erp.xlsx');
    expect(layout.incomingPrefix('2026-01')).toBe('incoming/2026-01/');
    expect(layout.staging('2026-01', 'r1', 'erp_clean.parquet')).toBe('staging/2026-01/r1/erp_clean.parquet');
    expect(layout.extracts('2026-01', 'r1', 'premium_wines.csv')).toBe('extracts/2026-01/r1/premium_wines.csv');
    expect(layout.extractsPrefix('2026-01')).toBe('extracts/2026-01/');
    expect(layout.manifest('2026-01', 'r1')).toBe('extracts/2026-01/r1/_manifest.json');
    expect(layout.current('2026-01')).toBe('extracts/2026-01/_current.json');
    expect(layout.deadLetter('2026-01', 'r1')).toBe('dead-letter/2026-01/r1.json');
    expect(layout.ingestClaimsRoot).toBe('state/ingest/');
    expect(layout.ingestClaimsPrefix('2026-01')).toBe('state/ingest/2026-01/');
    expect(layout.publishLock('2026-01')).toBe('state/publish/2026-01.lock');
    // A slot's instant, its ':' and '.' made '-' (safe in a key and a file name).
    expect(layout.scheduleClaim('2026-01', new Date('2026-01-31T08:30:00.000Z'))).toBe(
      'state/schedule/2026-01/2026-01-31T08-30-00-000Z.json',
    );
  });

  it('builds valid keys, each under its prefix', () => {
    for (const name of INPUT_NAMES) {
      const k = layout.incoming('2026-01', name);
      expect(validateKey(k)).toBe(k);
      expect(k.startsWith(layout.incomingPrefix('2026-01'))).toBe(true);
    }
    expect(layout.manifest('2026-01', 'r1').startsWith(layout.extractsPrefix('2026-01'))).toBe(true);
    expect(layout.current('2026-01').startsWith(layout.extractsPrefix('2026-01'))).toBe(true);
    for (const k of [
      layout.staging('2026-01', 'r1', 'x.parquet'),
      layout.deadLetter('2026-01', 'r1'),
      layout.extracts('2026-01', 'r1', 'a.csv'),
      layout.current('2026-01'),
    ]) {
      expect(validateKey(k)).toBe(k);
    }
  });
});

describe('parseIncomingKey', () => {
  it('reads the month and the input of incoming/<YYYY-MM>/<erp|web|liaison>.xlsx', () => {
    expect(parseIncomingKey('incoming/2026-01/erp.xlsx')).toEqual({ partition: '2026-01', name: 'erp' });
    expect(parseIncomingKey('incoming/2026-10/web.xlsx')).toEqual({ partition: '2026-10', name: 'web' });
    expect(parseIncomingKey('incoming/2026-12/liaison.xlsx')).toEqual({ partition: '2026-12', name: 'liaison' });
    expect(parseIncomingKey('incoming/2026-09/erp.xlsx')).toEqual({ partition: '2026-09', name: 'erp' });
  });

  it('is null for any other key: no month 00 or 13, a whole key only, a known input only', () => {
    for (const key of [
      'incoming/2026-00/erp.xlsx',
      'incoming/2026-13/erp.xlsx',
      'incoming/2026-1/erp.xlsx',
      'incoming/202-01/erp.xlsx',
      'incoming/abcd-01/erp.xlsx',
      'x/incoming/2026-01/erp.xlsx',
      'incoming/2026-01/erp.xlsx.tmp',
      'incoming/2026-01/erp.xls',
      'incoming/2026-01/other.xlsx',
      'incoming/2026-01/',
      '',
    ])
      expect(parseIncomingKey(key), key).toBeNull();
  });
});
