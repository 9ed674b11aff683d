import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckError } from '../errors/index.js';
import { writeZip } from '../testing/workbook.js';
import { NamespaceScope, NS, parsePart, type Attributes, type XmlBounds, type XmlHandler } from './xml.js';
import { XlsxZip } from './zip.js';
import { CpuBudget } from '../workers/cpu-budget.js';

// One part parsed as the readers parse it: namespaces by URI whatever the prefixes, the encodings
// OPC allows, and the bounds (depth, DOCTYPE, time) refused with the file, sheet and row named.

const LIMITS = { maxBytes: 50_000_000, maxUncompressedBytes: 100_000_000, maxRatio: 10_000, maxEntries: 10 };
let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bn-xml-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A handler that records what it is told: [uri local] on open, '/' on close, text as is. */
function recorder(o: { doneAfter?: number; row?: number } = {}) {
  const seen: string[] = [];
  const names: [string, string][] = [];
  const h: XmlHandler & { seen: string[]; attrs: Attributes[] } = {
    seen,
    attrs: [],
    done: false,
    classify(uri, local) {
      names.push([uri, local]);
      return names.length - 1;
    },
    open(kind, attrs, scope) {
      const [uri, local] = names[kind]!;
      seen.push(`<${uri === NS.main ? 'main:' : uri ? `${uri}:` : ''}${local}>`);
      h.attrs.push(attrs);
      if (attrs['r:id'] !== undefined) seen.push(`r:id=${String(scope.attribute(attrs, NS.rel, 'id'))}`);
      if (o.doneAfter !== undefined && seen.length >= o.doneAfter) h.done = true;
    },
    close() {
      seen.push('/');
    },
    text(t) {
      if (t.trim()) seen.push(t);
    },
    row: () => o.row ?? 0,
  };
  return h;
}

const bounds = (b: Partial<XmlBounds> = {}): XmlBounds => ({
  budget: new CpuBudget(60_000),
  maxCellChars: 1000,
  file: 'erp.xlsx',
  timeLimitMs: 5000,
  ...b,
});

async function parse(body: Buffer | string, h: XmlHandler, b = bounds(), drain = false, crc?: number) {
  const p = join(dir, `x${String(++n)}.xlsx`);
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  await writeZip(p, [{ name: 'xl/part.xml', data, ...(crc === undefined ? {} : { crc }) }]);
  const zip = await XlsxZip.open(p, 'erp.xlsx', LIMITS);
  try {
    await parsePart(zip, zip.entry('xl/part.xml')!, h, b, { drain });
  } finally {
    await zip.close();
  }
}

async function refusal(p: Promise<unknown>) {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BottleneckError);
  const b = e as BottleneckError;
  return { code: b.code, message: b.message, location: b.location };
}

const notXml = (why: string) => ({
  code: 'BN_ERR_INPUT_CORRUPT',
  message: `erp.xlsx cannot be read as an xlsx workbook (xl/part.xml: ${why}): export it again from Excel and drop it again`,
  location: { file: 'erp.xlsx' },
});

describe('parsePart: namespaces', () => {
  it('resolves elements by URI whatever the prefix, a nested declaration only inside its element', async () => {
    const h = recorder();
    await parse(`<x:a xmlns:x="${NS.main}"><x:b xmlns:x="urn:other"><x:c/></x:b><x:d/><e/></x:a>`, h);
    expect(h.seen).toEqual(['<main:a>', '<urn:other:b>', '<urn:other:c>', '/', '/', '<main:d>', '/', '<e>', '/', '/']);
  });

  it('the default namespace, and the xml prefix known without a declaration', async () => {
    const h = recorder();
    await parse(`<a xmlns="${NS.main}"><t xml:space="preserve"> x </t><b xmlns=""/></a>`, h);
    expect(h.seen).toEqual(['<main:a>', '<main:t>', ' x ', '/', '<b>', '/', '/']);
    expect(new NamespaceScope().resolve('xml')).toBe(NS.xml);
    expect(new NamespaceScope().resolve('')).toBeUndefined();
  });

  it('finds a prefixed attribute by its URI (r:id), not by its prefix', async () => {
    const h = recorder();
    await parse(`<a xmlns:r="${NS.rel}"><s r:id="rId7" id="plain"/></a>`, h);
    expect(h.seen).toContain('r:id=rId7');
    const scope = new NamespaceScope();
    expect(scope.attribute({ 'q:id': 'x', id: 'y' }, NS.rel, 'id')).toBeUndefined();
  });

  it('refuses an element whose prefix is not declared', async () => {
    expect(await refusal(parse('<a><p:b/></a>', recorder()))).toEqual(notXml('1:9: unbound namespace prefix: "p"'));
  });
});

describe('parsePart: bounds', () => {
  it(`elements nested 64 deep are read; 65 are refused`, async () => {
    const nest = (k: number) => `${'<a>'.repeat(k)}${'</a>'.repeat(k)}`;
    const h = recorder();
    await parse(nest(64), h);
    expect(h.seen.filter((s) => s === '<a>')).toHaveLength(64);
    const r = await refusal(parse(nest(65), recorder()));
    expect(r.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(r.message).toContain('elements nest deeper than 64');
  });

  it('refuses a DOCTYPE (no entity tricks)', async () => {
    const r = await refusal(parse('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', recorder()));
    expect(r.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(r.message).toContain('a DOCTYPE is not allowed in an xlsx part');
  });

  it('stops once the read budget is spent, naming the file, the sheet and the row it was in', async () => {
    expect(
      await refusal(parse('<a/>', recorder({ row: 12 }), bounds({ budget: new CpuBudget(0), sheet: 'Sheet1' }))),
    ).toEqual({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message:
        'erp.xlsx, sheet "Sheet1", row 12: reading took more than 5000 ms of CPU time (BN_MAX_READ_MS); the workbook is too large or hostile',
      location: { file: 'erp.xlsx', sheet: 'Sheet1', row: 12 },
    });
    // No sheet, no row yet: the file alone.
    expect(await refusal(parse('<a/>', recorder(), bounds({ budget: new CpuBudget(0) })))).toMatchObject({
      message:
        'erp.xlsx: reading took more than 5000 ms of CPU time (BN_MAX_READ_MS); the workbook is too large or hostile',
      location: { file: 'erp.xlsx' },
    });
  });

  it('a part that ends before its root closes is not XML', async () => {
    const r = await refusal(parse('<a><b>', recorder()));
    expect(r.code).toBe('BN_ERR_INPUT_CORRUPT');
    expect(r.message).toMatch(
      /^erp\.xlsx cannot be read as an xlsx workbook \(xl\/part\.xml: \d+:\d+: unclosed tag: b\)/,
    );
  });
});

describe('parsePart: stopping early', () => {
  // Two chunks (the part is inflated 256 KiB at a time), a CRC that does not match.
  const body = `<a><b/>${'<c/>'.repeat(100_000)}</a>`;

  it('stops after the chunk in which the handler is done: the rest is not parsed, nor its CRC checked', async () => {
    const h = recorder({ doneAfter: 2 });
    await parse(body, h, bounds(), false, 1234);
    expect(h.seen.length).toBeLessThan(2 * 70_000);
  });

  it('with drain, inflates the rest unparsed so that its CRC is checked', async () => {
    const h = recorder({ doneAfter: 2 });
    const r = await refusal(parse(body, h, bounds(), true, 1234));
    expect(r.message).toBe(
      'erp.xlsx is corrupt: zip entry xl/part.xml fails its CRC-32 check; export it again from Excel and drop it again',
    );
    expect(h.seen.length).toBeLessThan(2 * 70_000);
    await parse(body, recorder({ doneAfter: 2 }), bounds(), true);
  });

  it('a part that does not parse is drained: a damaged part is reported by its CRC', async () => {
    const r = await refusal(parse(`<a><b></a>${'x'.repeat(300_000)}`, recorder(), bounds(), false, 1234));
    expect(r.message).toContain('fails its CRC-32 check');
  });
});

describe('parsePart: encodings', () => {
  const xml = '<a>Château Ĉ 日本 🍷</a>';

  it('UTF-8 with or without its byte-order mark', async () => {
    for (const body of [Buffer.from(xml), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)])]) {
      const h = recorder();
      await parse(body, h);
      expect(h.seen).toEqual(['<a>', 'Château Ĉ 日本 🍷', '/']);
    }
  });

  it('UTF-16, little- and big-endian, by its byte-order mark', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const body of [le, be]) {
      const h = recorder();
      await parse(body, h);
      expect(h.seen).toEqual(['<a>', 'Château Ĉ 日本 🍷', '/']);
    }
  });

  it('refuses UTF-16 that ends inside a character', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>x</a>', 'utf16le'), Buffer.from([0x3c])]);
    expect(await refusal(parse(le, recorder()))).toEqual(notXml('bytes that are not UTF-16LE text'));
  });

  it('joins a character cut by a chunk boundary (2, 3 and 4 bytes), never replacing it', async () => {
    // The part is inflated 256 KiB at a time: put each character across that boundary.
    for (const ch of ['é', '日', '🍷']) {
      const bytes = Buffer.from(ch);
      for (let cut = 1; cut < bytes.length; cut++) {
        const pad = 256 * 1024 - '<a>'.length - cut;
        const body = `<a>${'x'.repeat(pad)}${ch}</a>`;
        const h = recorder();
        await parse(body, h);
        expect(h.seen[1]!.slice(-ch.length)).toBe(ch);
        expect(h.seen[1]!.length).toBe(pad + ch.length);
      }
    }
  });

  it('refuses a part that ends inside a UTF-8 character', async () => {
    const body = Buffer.concat([Buffer.from('<a>x</a>'), Buffer.from([0xe6, 0x97])]);
    expect(await refusal(parse(body, recorder()))).toEqual(notXml('bytes that are not UTF-8 text'));
  });
});

describe('parsePart: text and declarations', () => {
  it('CDATA is text; attributes that only look like declarations declare nothing', async () => {
    const h = recorder();
    await parse(`<a xmlns="${NS.main}" xmlnsx="urn:no" x="1"><t><![CDATA[a<b & c]]></t></a>`, h);
    expect(h.seen).toEqual(['<main:a>', '<main:t>', 'a<b & c', '/', '/']);
    expect(await refusal(parse(`<a xmlnsoo="${NS.main}"><oo:b/></a>`, recorder()))).toEqual(
      notXml('1:78: unbound namespace prefix: "oo"'),
    );
  });

  it('text without markup is counted from the last markup, not over the whole part', async () => {
    // Chunks of 256 KiB: the 2nd and 4th hold no markup; each alone is under the bound (265,536).
    const C = 256 * 1024;
    const body = `<r><b/>${'x'.repeat(C - 7)}${'x'.repeat(C)}<b/>${'x'.repeat(C - 4)}${'x'.repeat(C)}<b/></r>`;
    const h = recorder();
    await parse(body, h, bounds({ maxCellChars: 20_000 }));
    expect(h.seen.filter((s) => s === '<b>')).toHaveLength(3);
    const r = await refusal(
      parse(`<r>${'x'.repeat(3 * C)}</r>`, recorder(), bounds({ maxCellChars: 20_000, sheet: 'S' })),
    );
    expect(r).toEqual({
      code: 'BN_ERR_INPUT_TOO_LARGE',
      message:
        'erp.xlsx, sheet "S": more than 265536 characters without markup (a cell holds at most 20000 characters); the workbook is damaged or hostile',
      location: { file: 'erp.xlsx', sheet: 'S' },
    });
  });
});
