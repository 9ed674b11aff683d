import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SourceSpec } from '../sources.js';
import { rowXml, xlsxOf } from '../testing/xlsx-parts.js';

// What BN_PROFILE=1 prints of a read: each phase under a label naming the file (profile.ts records
// them; here its two entry points are replaced by recorders of the labels).
const labels = vi.hoisted(() => [] as string[]);
vi.mock('../profile.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../profile.js')>()),
  timed: <T>(label: string, fn: () => Promise<T>) => {
    labels.push(label);
    return fn();
  },
  mark: (label: string) => {
    labels.push(label);
  },
}));
const { checkHeader, DEFAULT_READ_LIMITS, readSheet } = await import('./read.js');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-read-profile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SPEC: SourceSpec = {
  name: 'erp',
  file: 'erp.xlsx',
  sheet: 'Sheet1',
  columns: [{ name: 'id', type: 'int', sql: 'BIGINT' }],
};

describe('the profile of a read', () => {
  it('names each phase of the full read and of the header check, with the file', async () => {
    const p = join(dir, 'erp.xlsx');
    await writeFile(p, xlsxOf([{ name: 'Sheet1', xml: rowXml(1, ['id']) + rowXml(2, [1]) }]));
    labels.length = 0;
    await readSheet(p, SPEC);
    expect(labels).toEqual([
      'read erp.xlsx: zip directory',
      'read erp.xlsx: workbook and relationships',
      'read erp.xlsx: shared strings and styles',
      'read erp.xlsx: sheet rows to the sink',
      'read erp.xlsx: CRC of the other parts',
    ]);
    labels.length = 0;
    await checkHeader(p, SPEC, DEFAULT_READ_LIMITS);
    expect(labels).toEqual([
      'read erp.xlsx: zip directory',
      'read erp.xlsx: workbook and relationships',
      'check erp.xlsx: header row',
      'check erp.xlsx: CRC of every part',
    ]);
  });
});
