import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { expandRefs, XmlScanner } from './xml-scanner.js';

// The reader's XML scanner: the events it gives, the same whatever the chunks, and the documents it
// refuses, with the line and column. saxes, which the reader used before, is the yardstick: the scanner
// accepts what it accepts and refuses what it refuses, with the same events.

const { SaxesParser } = createRequire(import.meta.url)('saxes') as typeof import('saxes');

/** Events written down as strings: a start tag with its attributes, an end tag, texts joined. */
class Events {
  readonly out: string[] = [];

  push(...e: string[]): void {
    this.out.push(...e);
  }

  tag(name: string, attrs: Record<string, string | undefined>): void {
    const listed = Object.entries(attrs).filter(([, v]) => v !== undefined);
    this.out.push(`<${name}${listed.map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('')}>`);
  }

  text(t: string): void {
    const last = this.out.length - 1;
    if (last >= 0 && this.out[last]!.startsWith('"')) this.out[last] = `${this.out[last]!.slice(0, -1)}${t}"`;
    else this.out.push(`"${t}"`);
  }
}

/**
 * What a scan gave: events as strings, ending with the error's message if it failed; `chunks`: where
 * the part is cut; `hook`: sets the scanner's one-call paths, writing down what they stand for.
 */
function scan(doc: string, chunks: number[] = [], hook?: (s: XmlScanner, ev: Events) => void): string[] {
  const ev = new Events();
  const s = new XmlScanner('p.xml', {
    open(name, attrs, declared) {
      ev.tag(name, attrs);
      if (declared) ev.push(`ns ${JSON.stringify([...declared])}`);
    },
    close: (name) => ev.push(`</${name}>`),
    text: (t) => ev.text(t),
    doctype: () => ev.push('doctype'),
  });
  hook?.(s, ev);
  try {
    let at = 0;
    for (const c of [...chunks, doc.length]) {
      s.write(doc.slice(at, c));
      at = c;
    }
    s.close();
  } catch (e) {
    ev.push(`error: ${(e as Error).message}`);
  }
  return ev.out;
}

/** The same through saxes, as the reader used it: whether it accepts, and its events. */
function saxes(doc: string): { ok: boolean; events: string[] } {
  const ev = new Events();
  const p = new SaxesParser({ xmlns: false, position: true, fileName: 'p.xml' });
  let depth = 0;
  p.on('opentag', (t) => {
    depth++;
    ev.tag(t.name, t.attributes);
    const ns = Object.entries(t.attributes).filter(([k]) => k === 'xmlns' || (k.startsWith('xmlns:') && k.length > 6));
    if (ns.length) ev.push(`ns ${JSON.stringify(ns.map(([k, v]) => [k.slice(6), v]))}`);
  });
  p.on('closetag', (t) => {
    depth--;
    ev.push(`</${t.name}>`);
  });
  // saxes reports whitespace outside the root as text; the scanner does not.
  p.on('text', (t) => {
    if (depth > 0) ev.text(t);
  });
  p.on('cdata', (t) => ev.text(t));
  p.on('doctype', () => ev.push('doctype'));
  try {
    p.write(doc);
    p.close();
    return { ok: true, events: ev.out };
  } catch {
    return { ok: false, events: ev.out };
  }
}

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const SHEET = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<worksheet xmlns="${MAIN}" xmlns:r="urn:r"><sheetData><row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1" s="2"><v>12.5</v></c><c r="C1" t="inlineStr"><is><t xml:space="preserve"> a &amp; b &lt;c&gt; &#233;&#x1F377; </t></is></c></row><row r="2"><c r="A2"/><cc r="B2"><v>x</v></cc><c  r = 'C2'  t="str" ><v>l1\r\nl2\rl3</v></c></row></sheetData><!-- a comment --><?pi data?><mergeCells count="0"/></worksheet>\n`;

const WELL_FORMED = [
  SHEET,
  '<a/>',
  '\uFEFF<?xml version="1.0"?><a b="1"/>',
  '<a>x<![CDATA[ <y> & ]]>z</a>',
  '<a b="x&#10;y" c="p\tq\nr\r\ns"/>',
  '<a\n  b="1"\n  c=\'2\'\n/>',
  '<x:a xmlns:x="urn:x"><x:b/></x:a>',
  '<!DOCTYPE a><a/>',
  '<a>]]</a>',
  '<a>a > b</a>',
  '<a b=">"/>',
  '<é_1.-·><é_1.-·/></é_1.-·>',
  '  <a/>  \n',
  '<a><!----></a>',
  '<a>&quot;&apos;&#0065;&#x00041;</a>',
  // More names with one first letter than are recognised in place (8), each met twice.
  `<a>${Array.from({ length: 12 }, (_, i) => `<b${i} b${i}="1"/>`).join('')}${Array.from({ length: 12 }, (_, i) => `<b${i} b${i}="2"/>`).join('')}</a>`,
  // Text longer than the one-pass check looks at, with a reference and a CR in it.
  `<a>${'x'.repeat(70)}&amp;\r\n${'y'.repeat(70)}</a>`,
  '<a><?pi?><?pi data?></a>',
];

const MALFORMED = [
  'not xml at all',
  '<a><b></a>',
  '<a></b>',
  '<a>',
  '<a><b>',
  '<a/><b/>',
  '<a/>x',
  'x<a/>',
  '<a b="1" b="2"/>',
  '<a b=1/>',
  '<a b/>',
  '<a b="<"/>',
  '<a b="1"c="2"/>',
  '<a>&unknown;</a>',
  '<a>&amp</a>',
  '<a>&#0;</a>',
  '<a>&#xD800;</a>',
  '<a>&#xFFFE;</a>',
  '<a>&#xZZ;</a>',
  '<a>]]></a>',
  '<a><!-- a -- b --></a>',
  '<a><!-- a ---></a>',
  '<a>\u0001</a>',
  '<a>\uFFFF</a>',
  '<1a/>',
  '<a 1b="x"/>',
  '<a/ >',
  '<a><?xml version="1.0"?></a>',
  ' <?xml version="1.0"?><a/>',
  '<![CDATA[x]]><a/>',
  '<a><!ELEMENT a></a>',
  '',
  '<a',
  '<a b="1',
  '<!-- only a comment -->',
  '<a><?1x y?></a>',
  '<a b="&x;"/>',
  '<a>x&bad;',
];

describe('XmlScanner: as saxes, which the reader used before it', () => {
  it.each(WELL_FORMED.map((d) => [d]))('accepts %j with the same events', (doc) => {
    const expected = saxes(doc);
    expect(expected.ok).toBe(true);
    expect(scan(doc)).toEqual(expected.events);
  });

  it.each(MALFORMED.map((d) => [d]))('refuses %j', (doc) => {
    expect(saxes(doc).ok).toBe(false);
    expect(scan(doc).at(-1)).toMatch(/^error: p\.xml:\d+:\d+: /);
  });
});

describe('XmlScanner: chunks', () => {
  it('gives the same events wherever the part is cut, in two or in many pieces', () => {
    const whole = scan(SHEET);
    expect(whole.some((e) => e.startsWith('error'))).toBe(false);
    for (let i = 0; i <= SHEET.length; i++) expect(scan(SHEET, [i]), `cut at ${i}`).toEqual(whole);
    for (let step = 1; step <= 7; step++) {
      const cuts: number[] = [];
      for (let i = step; i < SHEET.length; i += step) cuts.push(i);
      expect(scan(SHEET, cuts), `every ${step} characters`).toEqual(whole);
    }
  });

  it('gives the same error wherever the part is cut', () => {
    for (const doc of [
      '<a>\n<b x="1">&bad;</b></a>',
      '<a>\n<b></c></a>',
      '<a>\n<b y="2" y="3"/></a>',
      '<a>\n<b>\u0001</b></a>',
    ]) {
      const whole = scan(doc);
      for (let i = 0; i <= doc.length; i++) expect(scan(doc, [i]), `${doc} cut at ${i}`).toEqual(whole);
    }
  });
});

describe('XmlScanner: what it gives', () => {
  it('expands references, normalizes line ends, and attribute whitespace to spaces', () => {
    expect(scan('<a b="x&#10;y&#9;z" c="p\tq\nr\r\ns">1\r\n2\r3&#13;&lt;&gt;&amp;&quot;&apos;</a>')).toEqual([
      '<a b="x\\ny\\tz" c="p q r s">',
      '"1\n2\n3\r<>&"\'"',
      '</a>',
    ]);
  });

  it('hands namespace declarations to open, by prefix ("" the default)', () => {
    expect(scan('<a xmlns="urn:m" xmlns:r="urn:r" xmlnsx="no"><b/></a>')).toEqual([
      '<a xmlns="urn:m" xmlns:r="urn:r" xmlnsx="no">',
      'ns [["","urn:m"],["r","urn:r"]]',
      '<b>',
      '</b>',
      '</a>',
    ]);
  });

  it('tells a name met before from a longer one that starts like it', () => {
    expect(scan('<c><c r="1" rr="2"/><cc r="3"/><c\tr="4"/><c\nr="5">x</c ></c>')).toEqual([
      '<c>',
      '<c r="1" rr="2">',
      '</c>',
      '<cc r="3">',
      '</cc>',
      '<c r="4">',
      '</c>',
      '<c r="5">',
      '"x"',
      '</c>',
      '</c>',
    ]);
  });

  it('reports a DOCTYPE once read to its end, its internal subset and quoted ">" included', () => {
    expect(scan('<!DOCTYPE a [<!ENTITY e "x>y">]><a/>')).toEqual(['doctype', '<a>', '</a>']);
  });
});

describe('XmlScanner: errors say where, as `part:line:column: what`', () => {
  const error = (doc: string) => scan(doc).at(-1);

  it.each([
    ['not xml at all', 'p.xml:1:14: text data outside of root node.'],
    ['<a>\n<b>', 'p.xml:2:3: unclosed tag: b'],
    ['<a>\n  </b>', 'p.xml:2:6: unexpected close tag: b (the open tag is a)'],
    ['<a/>\n<b/>', 'p.xml:2:2: a second root element: an XML part has one.'],
    ['<a b="1" b="2"/>', 'p.xml:1:14: duplicate attribute: b.'],
    ['<a b=1/>', 'p.xml:1:6: unquoted attribute value.'],
    ['<a b/>', 'p.xml:1:5: attribute without value: "b"'],
    ['<a b="1"c="2"/>', 'p.xml:1:9: no whitespace between attributes.'],
    ['<a b="x<y"/>', 'p.xml:1:8: disallowed character.'],
    ['<a/ >', 'p.xml:1:4: forward-slash in opening tag not followed by >.'],
    ['<a>\n&nope;</a>', 'p.xml:2:6: undefined entity: &nope;'],
    ['<a>&#xD800;</a>', 'p.xml:1:11: a character reference to a character XML does not allow: &#xD800;'],
    ['<a>&#12a;</a>', 'p.xml:1:9: malformed character entity: &#12a;'],
    ['<a>&amp </a>', 'p.xml:1:8: an entity reference without its ";".'],
    ['<a>x]]>y</a>', 'p.xml:1:8: the string "]]>" is disallowed in char data.'],
    ['<a><!-- x -- y --></a>', 'p.xml:1:18: double dash in comment.'],
    ['<a>\n\u0002</a>', 'p.xml:2:1: disallowed character.'],
    ['<1a/>', 'p.xml:1:4: an element name is not a valid XML name: "1a"'],
    ['<a><?xml version="1.0"?></a>', 'p.xml:1:24: an XML declaration must be at the start of the document.'],
    ['<a><!ELEMENT x></a>', 'p.xml:1:5: disallowed markup: <!'],
    ['', 'p.xml:1:0: document must contain a root element.'],
    ['<a><b', 'p.xml:1:5: the part ends inside markup: "<b"'],
  ])('%j: %s', (doc, message) => {
    expect(error(doc)).toBe(`error: ${message}`);
  });

  it('fail() from a handler points after the tag it is in', () => {
    const s = new XmlScanner('p.xml', {
      open(name) {
        if (name === 'bad') s.fail('refused by the handler');
      },
      close() {},
      text() {},
      doctype() {},
    });
    expect(() => s.write('<a>\n  <b/><bad x="1">')).toThrow('p.xml:2:17: refused by the handler');
  });
});

describe('expandRefs', () => {
  it('expands the five entities and character references, decimal and hexadecimal, astral too', () => {
    expect(expandRefs('&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F377;x')).toBe('<>&"\'AB\u{1F377}x');
    expect(expandRefs('no reference')).toBe('no reference');
  });

  it('refuses what XML does not define, and an overlong reference without reading on', () => {
    expect(() => expandRefs('&nbsp;')).toThrow('undefined entity: &nbsp;');
    expect(() => expandRefs('&#x110000;')).toThrow('a character reference to a character XML does not allow');
    expect(() => expandRefs(`&${'a'.repeat(50)};`)).toThrow('an entity reference without its ";".');
  });
});

describe('XmlScanner: cells in one call', () => {
  const CELLS = [
    '<c r="A1"><v>1</v></c>',
    '<c r="A1" t="s" s="3"><v>0</v></c>',
    '<c s="1" r="C1" t="str"><v>a b</v></c>',
    '<c/>',
    '<c r="B1"/>',
    '<c r="A1"><v></v></c>',
    '<c><v>7</v></c>',
    // Each of these is read element by element, with the same events (or error).
    '<c r="A1" t="str"><v>a&amp;b</v></c>',
    '<c r="A1" r="B1"><v>1</v></c>',
    '<c  r="A1"><v>1</v></c>',
    "<c r='A1'><v>1</v></c>",
    '<c r="A1"><f>1+1</f><v>2</v></c>',
    '<c r="A1"><v>1</v><extLst/></c>',
    '<c r="A1" t="inlineStr"><is><t>x</t></is></c>',
    '<c r="A1"><v>x]</v></c>',
    '<c r="A1"><v>x\r\ny</v></c>',
    '<c x="1"><v>1</v></c>',
    '<c r="A&lt;1"><v>1</v></c>',
    '<c r="A1"\n><v>1</v></c>',
    '<c r="A1"><v>1</v></c >',
    '<c r="A1"><v>1</v ></c>',
    '<c r="A1"><v a="1">1</v></c>',
    '<c r="A1" s ="1"><v>1</v></c>',
    '<c r="A1" t="s\t"><v>1</v></c>',
    '<c r="A1"/ >',
    '<cc r="1"/>',
    '<c r="A1"><v>1</v></cc>',
  ];
  const DOC = `<worksheet><sheetData><row r="1">${CELLS.join('')}</row></sheetData></worksheet>`;

  /** A scan with the hook: each cell it takes is written down as the five events it stands for. */
  function withHook(doc: string, cuts: number[] = [], refuse = false): { events: string[]; taken: number } {
    let taken = 0;
    const events = scan(doc, cuts, (s, ev) => {
      s.cell = (r, st, t, v) => {
        if (refuse) return false;
        taken++;
        ev.tag('c', { r, s: st, t });
        if (v !== undefined) {
          ev.push('<v>');
          if (v !== '') ev.text(v);
          ev.push('</v>');
        }
        ev.push('</c>');
        return true;
      };
    });
    return { events, taken };
  }

  // saxes puts attributes in document order; the hook's stand-in writes r, s, t: compare by cell.
  const sorted = (events: string[]) =>
    events.map((e) => e.replace(/^<c( [^>]*)>$/, (_, a: string) => `<c${a.split(' ').sort().join(' ')}>`));

  it.each(CELLS.map((c) => [c]))('%j: the same events as element by element, in a sheet', (cell) => {
    const doc = `<worksheet><sheetData><row>${cell}</row></sheetData></worksheet>`;
    expect(sorted(withHook(doc).events)).toEqual(sorted(scan(doc)));
  });

  it('takes the usual cells in one call, and none when the hook declines or outside the root', () => {
    expect(withHook(DOC).taken).toBe(7);
    expect(withHook(DOC, [], true).events).toEqual(scan(DOC));
    expect(withHook('<c r="A1"><v>1</v></c>').taken).toBe(0);
  });

  it('gives the same events wherever the part is cut', () => {
    const whole = sorted(withHook(DOC).events);
    const plain = sorted(scan(DOC));
    expect(whole).toEqual(plain);
    for (let i = 0; i <= DOC.length; i++) expect(sorted(withHook(DOC, [i]).events), `cut at ${i}`).toEqual(whole);
  });
});

describe('XmlScanner: shared strings in one call', () => {
  const STRINGS = [
    '<si><t>plain</t></si>',
    '<si><t xml:space="preserve"> spaced </t></si>',
    '<si><t>&lt;p&gt;Ch&#226;teau &amp; co&lt;/p&gt;</t></si>',
    '<si><t></t></si>',
    // Each of these is read element by element, with the same events (or error).
    '<si><t>a]b</t></si>',
    '<si><t>a\r\nb</t></si>',
    '<si><t>&nope;</t></si>',
    '<si><r><t>rich</t></r><r><t> text</t></r></si>',
    '<si><t>x</t><rPh sb="0" eb="1"><t>X</t></rPh></si>',
    '<si><t xml:space="default">x</t></si>',
    '<si ><t>x</t></si>',
    '<si><t>x</t></si >',
    '<si><t/></si>',
    '<sx><t>x</t></sx>',
  ];

  function withHook(doc: string, cuts: number[] = []): { events: string[]; taken: number } {
    let taken = 0;
    const events = scan(doc, cuts, (s, ev) => {
      s.sharedString = (t) => {
        taken++;
        ev.push('<si>', '<t>');
        if (t !== '') ev.text(t);
        ev.push('</t>', '</si>');
        return true;
      };
    });
    return { events, taken };
  }
  // The stand-in leaves out t's xml:space, which the shared strings' reader does not look at.
  const plain = (events: string[]) => events.map((e) => e.replace(' xml:space="preserve"', ''));

  it.each(STRINGS.map((x) => [x]))('%j: the same events as element by element, under the root', (si) => {
    const doc = `<sst>${si}</sst>`;
    expect(plain(withHook(doc).events)).toEqual(plain(scan(doc)));
  });

  it('takes the usual ones in one call, only right under the root, the same wherever the part is cut', () => {
    const doc = `<sst>${STRINGS.slice(0, 6).join('')}<x>${STRINGS[0]!}</x></sst>`;
    expect(withHook(doc).taken).toBe(4);
    const whole = plain(withHook(doc).events);
    expect(whole).toEqual(plain(scan(doc)));
    for (let i = 0; i <= doc.length; i++) expect(plain(withHook(doc, [i]).events), `cut at ${i}`).toEqual(whole);
  });
});

describe('XmlScanner: many names', () => {
  it('more distinct names than it remembers (4,096) are still checked and read', () => {
    const names = Array.from({ length: 5000 }, (_, i) => `n${i}`);
    const doc = `<a>${names.map((n) => `<${n}/>`).join('')}${names.map((n) => `<${n}/>`).join('')}<1bad/></a>`;
    const events = scan(doc);
    expect(events.filter((e) => e.startsWith('<n'))).toHaveLength(10_000);
    expect(events.at(-1)).toMatch(/an element name is not a valid XML name: "1bad"$/);
  });
});

describe('XmlScanner: a hostile tag', () => {
  it('thousands of attributes: read, and a duplicate among them found, at the end or the start', () => {
    const attrs = Array.from({ length: 5000 }, (_, i) => ` a${i}="${i}"`).join('');
    const events = scan(`<r${attrs}/>`);
    expect(events).toHaveLength(2);
    expect(
      Object.keys(
        JSON.parse(
          `{${events[0]!
            .slice(2, -1)
            .replace(/ (a\d+)=/g, ',"$1":')
            .slice(1)}}`,
        ),
      ),
    ).toHaveLength(5000);
    expect(scan(`<r${attrs} a4321="x"/>`).at(-1)).toMatch(/duplicate attribute: a4321\.$/);
    expect(scan(`<r${attrs} a1="x"/>`).at(-1)).toMatch(/duplicate attribute: a1\.$/);
    expect(scan(`<r${attrs} a0="x"/>`).at(-1)).toMatch(/duplicate attribute: a0\.$/);
  });
});

describe('XmlScanner: the whole story up to an error, and at the end of the part', () => {
  it.each([
    // The part ends: what was read is given, then what is still open.
    ['<a>', [], ['<a>', 'error: p.xml:1:3: unclosed tag: a']],
    ['<a>text', [], ['<a>', '"text"', 'error: p.xml:1:7: unclosed tag: a']],
    ['<a>x&nope;', [], ['<a>', 'error: p.xml:1:10: undefined entity: &nope;']],
    [
      `<a><b c="${'x'.repeat(50)}`,
      [],
      ['<a>', `error: p.xml:1:59: the part ends inside markup: ${JSON.stringify(`<b c="${'x'.repeat(34)}`)}`],
    ],
    ['<!DOCTYPE a "x', [], ['error: p.xml:1:14: the part ends inside markup: "<!DOCTYPE a \\"x"']],
    // Text outside the root: where it is.
    ['x<a/>', [], ['error: p.xml:1:1: text data outside of root node.']],
    ['<a/>\n x', [], ['<a>', '</a>', 'error: p.xml:2:2: text data outside of root node.']],
    ['<![CDATA[x]]><a/>', [], ['error: p.xml:1:13: text data outside of root node.']],
    // CDATA: its text, nothing for an empty one, the text after it.
    ['<a><![CDATA[x]]>y<![CDATA[]]>z</a>', [], ['<a>', '"xyz"', '</a>']],
    ['<a><![CDATA[]]></a>', [], ['<a>', '</a>']],
    // Comments: a body that begins with dashes, or ends with one, is refused; ">" may begin one.
    ['<a><!----x--></a>', [], ['<a>', 'error: p.xml:1:13: double dash in comment.']],
    ['<a><!-->x--></a>', [], ['<a>', '</a>']],
    ['<a><!--->x--></a>', [], ['<a>', '</a>']],
    // Close tags: the name cut to 40 characters in the message.
    [
      `<a><b/></${'c'.repeat(50)}>`,
      [],
      ['<a>', '<b>', '</b>', `error: p.xml:1:60: unexpected close tag: ${'c'.repeat(40)} (the open tag is a)`],
    ],
    ['<a>\n</b>', [], ['<a>', '"\n"', 'error: p.xml:2:4: unexpected close tag: b (the open tag is a)']],
    ['</a>', [], ['error: p.xml:1:4: unexpected close tag: a']],
    // A byte-order mark is skipped at the part's start only, even after an empty first chunk.
    ['\uFEFF<a/>', [0], ['<a>', '</a>']],
    ['<a>x\uFEFFy</a>', [4], ['<a>', '"x\uFEFFy"', '</a>']],
    ['<a>\uFEFFx</a>', [3], ['<a>', '"\uFEFFx"', '</a>']],
    // Names beyond the Basic Multilingual Plane (XML allows them: a regular expression must read code points).
    ['<\u{10000}a \u{10000}b="1"/>', [], ['<\u{10000}a \u{10000}b="1">', '</\u{10000}a>']],
    // Duplicate attributes however many come before them.
    [
      '<a b="1" c="2" d="3" e="4" f="5" g="6" h="7" i="8" j="9" k="10" j="x"/>',
      [],
      ['error: p.xml:1:69: duplicate attribute: j.'],
    ],
    [
      '<a b="1" c="2" d="3" e="4" f="5" g="6" h="7" i="8" j="9" k="10" b="x"/>',
      [],
      ['error: p.xml:1:69: duplicate attribute: b.'],
    ],
    ['<a b="1" c="2" c="3"/>', [], ['error: p.xml:1:20: duplicate attribute: c.']],
    // Only xmlns and xmlns:p declare: not x, xml:lang, xmlnsp, nor "xmlns:" without a prefix.
    [
      '<a x="1" xml:lang="fr" xmlnsp="v" xmlns:="w" xmlns:p="u"/>',
      [],
      ['<a x="1" xml:lang="fr" xmlnsp="v" xmlns:="w" xmlns:p="u">', 'ns [["p","u"]]', '</a>'],
    ],
  ] as [string, number[], string[]][])('%j cut at %j', (doc, chunks, expected) => {
    expect(scan(doc, chunks)).toEqual(expected);
  });

  it('says nothing more of an unclosed part than what it holds (no empty text at the end)', () => {
    expect(scan('<a><b>')).toEqual(['<a>', '<b>', 'error: p.xml:1:6: unclosed tag: b']);
    expect(scan('<a>x</a>  \n')).toEqual(['<a>', '"x"', '</a>']);
  });
});
