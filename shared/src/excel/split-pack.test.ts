import { describe, expect, it } from 'vitest';
import type { ColumnSpec } from '../sources.js';
import type { Converted } from './cells.js';
import { BatchPacker, PACKED_ROWS, transferables, unpack, type PackedBatch } from './split.js';

// The split's batches on their own (split.test.ts reads whole sheets through a worker that runs the
// compiled packer): what the worker packs is what the reading thread unpacks, cell for cell.

const COLUMNS: ColumnSpec[] = [
  { name: 'id', type: 'int', sql: 'BIGINT' },
  { name: 'price', type: 'decimal', sql: 'DECIMAL(18,4)' },
  { name: 'ratio', type: 'double', sql: 'DOUBLE' },
  { name: 'title', type: 'text', sql: 'VARCHAR' },
  { name: 'at', type: 'timestamp', sql: 'TIMESTAMP' },
];

type Row = [Converted[], number];

function unpacked(batch: PackedBatch, columns = COLUMNS): Row[] {
  const out: Row[] = [];
  unpack(batch, columns, (values, row) => out.push([[...values], row]));
  return out;
}

function packed(rows: Row[], columns = COLUMNS): PackedBatch {
  const p = new BatchPacker(columns);
  for (const [values, row] of rows) p.add(values, row);
  return p.take();
}

describe('BatchPacker and unpack: a batch of the split, packed on the worker, unpacked on the reading thread', () => {
  it('gives back every value, null and row number, in order, whatever the column type', () => {
    const rows: Row[] = [
      [[1, '12.5000', 0.25, 'Château Margaux', '2026-12-01 10:00:00'], 2],
      [[null, null, null, null, null], 3],
      [[-7, '0', -1.5e-7, '', '1900-01-01 00:00:00'], 5],
      [[2 ** 40, '-3.1400', Number.MAX_VALUE, 'sur commande €', null], 9],
      [[0, null, 0, 'un verre 🍷 de trop', '9999-12-31 23:59:59.999'], 1_048_576],
    ];
    expect(unpacked(packed(rows))).toEqual(rows);
  });

  it('treats an undefined cell (a short row) as null, and an empty text as text', () => {
    const b = packed([[[5, undefined as unknown as Converted, 1, '', undefined as unknown as Converted], 7]]);
    expect(unpacked(b)).toEqual([[[5, null, 1, '', null], 7]]);
    expect(Array.from(b.nulls)).toEqual([0, 1, 0, 0, 1]);
  });

  it('lays the batch out compactly: numbers in order, texts as UTF-8 with their ends, a null flag per cell', () => {
    const b = packed([
      [[1, '2.50', 3.5, 'é', null], 10],
      [[4, null, 6, 'ab', '2026-01-01 00:00:00'], 11],
    ]);
    expect(Array.from(b.rows)).toEqual([10, 11]);
    expect(Array.from(b.nulls)).toEqual([0, 0, 0, 0, 1, 0, 1, 0, 0, 0]);
    expect(Array.from(b.num)).toEqual([1, 3.5, 4, 6]);
    expect(Buffer.from(b.text).toString('utf8')).toBe('2.50éab2026-01-01 00:00:00');
    // 'é' is two bytes in UTF-8: each end is a byte offset.
    expect(Array.from(b.ends)).toEqual([4, 6, 8, 27]);
    expect(b.bytes).toBe(
      b.rows.byteLength + b.nulls.byteLength + b.num.byteLength + b.text.byteLength + b.ends.byteLength,
    );
    expect(b.bytes).toBe(2 * 4 + 10 + 4 * 8 + 27 + 4 * 4);
  });

  it('grows its text buffer past its first MiB without losing what it held', () => {
    const long = '€'.repeat(400_000); // 1.2 MB of UTF-8: more than the first buffer
    const rows: Row[] = [
      [[1, null, null, 'before', null], 2],
      [[2, null, null, long, null], 3],
      [[3, null, null, 'après', null], 4],
      [[4, null, null, long + 'x', null], 5],
    ];
    expect(unpacked(packed(rows))).toEqual(rows);
  });

  it('starts each batch afresh after take(), with its own counters', () => {
    const p = new BatchPacker(COLUMNS);
    p.add([1, '1', 1, 'one', null], 2);
    p.elements = 3;
    p.blank = 1;
    expect(p.size).toBe(1);
    const first = p.take();
    expect(p.size).toBe(0);
    expect(p.elements).toBe(0);
    expect(p.blank).toBe(0);
    expect(first.elements).toBe(3);
    expect(first.blank).toBe(1);
    p.add([2, '2', 2, 'two', '2026-12-06 00:00:00'], 9);
    const second = p.take();
    expect(second.elements).toBe(0);
    expect(unpacked(first)).toEqual([[[1, '1', 1, 'one', null], 2]]);
    expect(unpacked(second)).toEqual([[[2, '2', 2, 'two', '2026-12-06 00:00:00'], 9]]);
    expect(unpacked(p.take())).toEqual([]);
  });

  it('holds PACKED_ROWS rows in a batch', () => {
    const p = new BatchPacker(COLUMNS);
    for (let k = 0; k < PACKED_ROWS; k++) p.add([k, null, k / 2, `t${k}`, null], k + 2);
    expect(p.size).toBe(PACKED_ROWS);
    const rows = unpacked(p.take());
    expect(rows).toHaveLength(PACKED_ROWS);
    expect(rows[PACKED_ROWS - 1]).toEqual([
      [PACKED_ROWS - 1, null, (PACKED_ROWS - 1) / 2, `t${PACKED_ROWS - 1}`, null],
      PACKED_ROWS + 1,
    ]);
  });

  it("hands over a batch's buffers (transferred, not copied) and keeps packing on its own", () => {
    const p = new BatchPacker(COLUMNS);
    p.add([1, '1.5', 2, 'vin', null], 2);
    const b = p.take();
    const buffers = transferables(b);
    expect(buffers).toHaveLength(5);
    expect(new Set(buffers).size).toBe(5);
    // What a postMessage with these transferables does: the batch arrives, the sender's copies are detached.
    const moved = structuredClone(b, { transfer: buffers });
    expect(b.text.byteLength).toBe(0);
    expect(unpacked(moved)).toEqual([[[1, '1.5', 2, 'vin', null], 2]]);
    // The packer's own arrays were not handed over: the next batch packs as the first did.
    p.add([2, '2.5', 3, 'blanc', null], 3);
    expect(unpacked(p.take())).toEqual([[[2, '2.5', 3, 'blanc', null], 3]]);
  });

  it('unpacks a batch whose text is a view into a larger buffer (as it may arrive)', () => {
    const b = packed([[[1, 'a', 2, 'bé', null], 2]]);
    const big = new Uint8Array(b.text.byteLength + 16);
    big.set(b.text, 8);
    const view = { ...b, text: big.subarray(8, 8 + b.text.byteLength) };
    expect(unpacked(view)).toEqual([[[1, 'a', 2, 'bé', null], 2]]);
  });
});
