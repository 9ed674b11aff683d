/**
 * A streaming XML 1.0 scanner for the parts of an xlsx workbook (issue 18): what saxes did for
 * the reader, without a state machine stepping through every character. Text runs and attribute
 * values are found with `indexOf` and cut with `slice`; a name is checked against XML's name
 * characters once per distinct name. At K = 20, saxes' part of reading web.xlsx was about half of
 * the reader's time.
 *
 * It checks what makes a part well-formed XML: names, matching end tags, one root, no text outside
 * it, attributes quoted, unique and free of `<`, entity and character references known and valid,
 * characters XML allows, comments without `--`, the XML declaration only at the start. It does not
 * expand DOCTYPEs (the caller refuses them: no entity tricks) nor resolve namespaces (the caller
 * does, by URI). Errors say where: `part:line:column: what`, the line and column after the last
 * character read, as saxes said them.
 *
 * @example
 * const s = new XmlScanner('xl/workbook.xml', { open, close, text, doctype });
 * s.write('<workbook xmlns="...">'); s.write('</workbook>'); s.close();
 */
export interface ScanEvents {
  /**
   * A start tag (an empty-element tag calls close right after). `declared`: its namespace
   * declarations (xmlns, xmlns:p attributes) by prefix ('' for the default), undefined when none.
   */
  open(name: string, attrs: Record<string, string>, declared: Map<string, string> | undefined): void;
  close(name: string): void;
  /** Character data or a CDATA section's content, references expanded, line ends normalized; never empty. */
  text(text: string): void;
  /** A DOCTYPE, once read to its end. */
  doctype(): void;
}

// XML 1.0 (fifth edition) production 4 and 4a.
const NAME_START =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
// eslint-disable-next-line no-misleading-character-class -- XML's name characters include the combining marks U+0300-U+036F, by range
const NAME_RE = new RegExp(`^[${NAME_START}][${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040]*$`, 'u');
/** Characters XML 1.0 does not allow anywhere (the surrogates are paired by the decoders before this). */
// eslint-disable-next-line no-control-regex -- these are the control characters XML refuses
const DISALLOWED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;
/** How many distinct names are remembered as valid: a hostile part with endless new names is checked name by name. */
const MAX_KNOWN_NAMES = 4096;

const LT = 60;
const GT = 62;
const SLASH = 47;
const EQ = 61;
const BANG = 33;
const QMARK = 63;
const DQUOTE = 34;
const AMP = 38;
const CR = 13;
const RBRACKET = 93;
const SQUOTE = 39;

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

/** The attributes of every element without any (most of a sheet's): one object, never written to. */
const NO_ATTRIBUTES: Record<string, string> = Object.freeze({});

/** Where a chunk's scan stopped because the markup at `at` continues in the next chunk. */
const MORE = -1;

export class XmlScanner {
  private carry = '';
  /** Characters of the part before the buffer being scanned, the lines they hold, and where the last of them began. */
  private base = 0;
  private line = 1;
  private lineStart = 0;
  /** The buffer being scanned, and the index in it after the last character read: where errors point. */
  private buf = '';
  private at = 0;
  private readonly stack: string[] = [];
  private rootSeen = false;
  private started = false;
  private readonly names = new Set<string>();
  /** Names met before, by their first character (ASCII): looked for in place before a new name is cut. */
  private readonly byFirst: (string[] | undefined)[] = new Array<string[] | undefined>(128);

  /**
   * Where set, a `<c>` element written the usual way (attributes r, s, t only, each once, values
   * without references or line ends; then `<v>` with plain text and `</v></c>`, or `/>`) is handed
   * to it in one call instead of as five events; it returns false to have it scanned element by
   * element after all. Anything else about the cell, or a cell cut by the chunk's end, is scanned
   * element by element: the events, and the errors, are the same either way.
   */
  cell:
    | ((r: string | undefined, s: string | undefined, t: string | undefined, v: string | undefined) => boolean)
    | undefined;

  /**
   * Where set, a shared string written the usual way right under the root, `<si><t>text</t></si>`
   * (the t with `xml:space="preserve"` or no attribute, the text without CR or `]`), is handed to
   * it in one call, its references expanded; it returns false to have it scanned element by element.
   */
  sharedString: ((text: string) => boolean) | undefined;

  constructor(
    private readonly part: string,
    private readonly ev: ScanEvents,
  ) {}

  /** Throws an error at the position reached: `part:line:column: message` (column: characters of the line read). */
  fail(message: string): never {
    let line = this.line;
    let start = this.lineStart;
    const { buf, at } = this;
    for (let k = buf.indexOf('\n'); k >= 0 && k < at; k = buf.indexOf('\n', k + 1)) {
      line++;
      start = this.base + k + 1;
    }
    throw new Error(`${this.part}:${String(line)}:${String(this.base + at - start)}: ${message}`);
  }

  private failAt(at: number, message: string): never {
    this.at = at;
    return this.fail(message);
  }

  /** Scans the next piece of the part's text (any length; markup may be cut anywhere). */
  write(chunk: string): void {
    const bad = DISALLOWED.exec(chunk);
    if (bad) {
      // What comes before it is scanned first: the same events before the error wherever the chunks end.
      this.scan(chunk.slice(0, bad.index));
      this.buf = this.carry + chunk.charAt(bad.index);
      this.failAt(this.buf.length, 'disallowed character.');
    }
    this.scan(chunk);
  }

  private scan(chunk: string): void {
    const buf = this.carry ? this.carry + chunk : chunk;
    this.buf = buf;
    let i = 0;
    if (!this.started && buf.length > 0) {
      this.started = true;
      // A byte-order mark, decoded: not part of the document.
      if (buf.charCodeAt(0) === 0xfeff) i = 1;
    }
    const n = buf.length;
    while (i < n) {
      const lt = buf.indexOf('<', i);
      if (lt < 0) break;
      if (lt > i) this.chars(buf, i, lt);
      const end = this.markup(buf, lt);
      if (end === MORE) {
        i = lt;
        break;
      }
      i = end;
    }
    // The scanned characters folded into the position; the rest waits for the next chunk.
    for (let k = buf.indexOf('\n'); k >= 0 && k < i; k = buf.indexOf('\n', k + 1)) {
      this.line++;
      this.lineStart = this.base + k + 1;
    }
    this.base += i;
    this.carry = i < n ? buf.slice(i) : '';
    this.buf = this.carry;
    this.at = 0;
  }

  /** The end of the part: what is still open is an error. */
  close(): void {
    const rest = this.carry;
    this.buf = rest;
    this.at = rest.length;
    if (rest.length > 0) {
      if (rest.charCodeAt(0) === LT) this.fail(`the part ends inside markup: ${JSON.stringify(rest.slice(0, 40))}`);
      if (this.stack.length === 0) {
        if (!WHITESPACE_ONLY.test(rest)) this.fail('text data outside of root node.');
      } else {
        let t: string;
        try {
          t = expandRefs(normalizeEol(rest));
        } catch (e) {
          this.fail((e as Error).message);
        }
        this.ev.text(t);
      }
    }
    const open = this.stack[this.stack.length - 1];
    if (open !== undefined) this.fail(`unclosed tag: ${open}`);
    if (!this.rootSeen) this.fail('document must contain a root element.');
  }

  /** Character data from `from` to `to` (a `<` at `to`). */
  private chars(buf: string, from: number, to: number): void {
    if (this.stack.length === 0) {
      if (!WHITESPACE_ONLY.test(buf.slice(from, to))) this.failAt(to, 'text data outside of root node.');
      return;
    }
    // A cell's value is a few characters: one pass for what needs more than a slice (&, CR, ]]>).
    let plain = true;
    if (to - from <= 64) {
      for (let k = from; k < to; k++) {
        const c = buf.charCodeAt(k);
        if (c === AMP || c === CR || c === RBRACKET) {
          plain = false;
          break;
        }
      }
    } else plain = false;
    this.at = to;
    if (plain) {
      this.ev.text(buf.slice(from, to));
      return;
    }
    const raw = buf.slice(from, to);
    if (raw.indexOf(']]>') >= 0) this.failAt(to, 'the string "]]>" is disallowed in char data.');
    let t = normalizeEol(raw);
    if (t.indexOf('&') >= 0) {
      try {
        t = expandRefs(t);
      } catch (e) {
        this.failAt(to, (e as Error).message);
      }
    }
    this.ev.text(t);
  }

  /** The markup at `lt` (a `<`): the index after it, or MORE when it is not all in `buf`. */
  private markup(buf: string, lt: number): number {
    const n = buf.length;
    if (lt + 1 >= n) return MORE;
    const c = buf.charCodeAt(lt + 1);
    if (c === SLASH) return this.endTag(buf, lt);
    if (c === BANG) return this.bang(buf, lt);
    if (c === QMARK) return this.instruction(buf, lt);
    return this.startTag(buf, lt);
  }

  /**
   * The name at `from` in `buf`, if it is one met before and followed by a character that ends a
   * name: the same string as then (checked then, its hash computed: a map lookup costs nothing
   * more), without cutting a new one. Else undefined.
   */
  private knownAt(buf: string, from: number): string | undefined {
    const list = this.byFirst[buf.charCodeAt(from)];
    if (list === undefined) return undefined;
    for (const name of list) {
      const after = buf.charCodeAt(from + name.length);
      if ((after === GT || after === SLASH || after === EQ || isSpace(after)) && buf.startsWith(name, from))
        return name;
    }
    return undefined;
  }

  private checkName(name: string, at: number, what: string): void {
    if (this.names.has(name)) return;
    if (!NAME_RE.test(name)) this.failAt(at, `${what} is not a valid XML name: ${JSON.stringify(name.slice(0, 40))}`);
    if (this.names.size >= MAX_KNOWN_NAMES) return;
    this.names.add(name);
    const first = name.charCodeAt(0);
    if (first < 128) {
      const list = (this.byFirst[first] ??= []);
      if (list.length < 8) list.push(name);
    }
  }

  /** A cell the usual way at `lt` handed to `cell`: the index after it, or MORE to scan it element by element. */
  private fastCell(buf: string, lt: number): number {
    const hook = this.cell;
    if (hook === undefined) return MORE;
    const n = buf.length;
    let p = lt + 2;
    let r: string | undefined;
    let s: string | undefined;
    let t: string | undefined;
    let seen = 0;
    let c: number;
    for (;;) {
      if (p >= n) return MORE;
      c = buf.charCodeAt(p);
      if (c === GT) {
        p++;
        break;
      }
      if (c === SLASH) {
        if (buf.charCodeAt(p + 1) !== GT) return MORE;
        this.at = p + 2;
        return hook(r, s, t, undefined) ? p + 2 : MORE;
      }
      // One space, then r, s or t, then =" (r = 114, s = 115, t = 116).
      if (c !== 32 || buf.charCodeAt(p + 2) !== EQ || buf.charCodeAt(p + 3) !== DQUOTE) return MORE;
      const a = buf.charCodeAt(p + 1);
      const bit = a === 114 ? 1 : a === 115 ? 2 : a === 116 ? 4 : 0;
      if (bit === 0 || (seen & bit) !== 0) return MORE;
      seen |= bit;
      const v0 = p + 4;
      let q = v0;
      while (q < n) {
        c = buf.charCodeAt(q);
        if (c === DQUOTE) break;
        if (c === AMP || c === LT || c < 32) return MORE;
        q++;
      }
      if (q >= n) return MORE;
      const value = buf.slice(v0, q);
      if (bit === 1) r = value;
      else if (bit === 2) s = value;
      else t = value;
      p = q + 1;
    }
    // <v> (60 118 62), plain text, </v></c>.
    if (buf.charCodeAt(p) !== LT || buf.charCodeAt(p + 1) !== 118 || buf.charCodeAt(p + 2) !== GT) return MORE;
    const t0 = p + 3;
    const end = buf.indexOf('<', t0);
    if (end < 0) return MORE;
    for (let k = t0; k < end; k++) {
      c = buf.charCodeAt(k);
      if (c === AMP || c === CR || c === RBRACKET) return MORE;
    }
    if (!buf.startsWith('</v></c>', end)) return MORE;
    this.at = end + 8;
    return hook(r, s, t, buf.slice(t0, end)) ? end + 8 : MORE;
  }

  /** A shared string the usual way at `lt` handed to `sharedString`: the index after it, or MORE. */
  private fastSharedString(buf: string, lt: number): number {
    const hook = this.sharedString;
    if (hook === undefined || !buf.startsWith('<si><t', lt)) return MORE;
    let p = lt + 6;
    if (buf.charCodeAt(p) === GT) p++;
    else if (buf.startsWith(' xml:space="preserve">', p)) p += 22;
    else return MORE;
    const end = buf.indexOf('<', p);
    if (end < 0) return MORE;
    let amp = false;
    for (let k = p; k < end; k++) {
      const c = buf.charCodeAt(k);
      if (c === CR || c === RBRACKET) return MORE;
      if (c === AMP) amp = true;
    }
    if (!buf.startsWith('</t></si>', end)) return MORE;
    let text = buf.slice(p, end);
    if (amp) {
      try {
        text = expandRefs(text);
      } catch {
        // Element by element, where the error gets its position.
        return MORE;
      }
    }
    this.at = end + 9;
    return hook(text) ? end + 9 : MORE;
  }

  private startTag(buf: string, lt: number): number {
    const n = buf.length;
    // <si (115 105) right under the root.
    if (this.sharedString !== undefined && this.stack.length === 1 && buf.charCodeAt(lt + 1) === 115) {
      const end = this.fastSharedString(buf, lt);
      if (end !== MORE) return end;
    }
    if (this.cell !== undefined && buf.charCodeAt(lt + 1) === 99 && this.stack.length > 0) {
      // <c followed by a space, > or / (c = 99).
      const after = buf.charCodeAt(lt + 2);
      if (after === 32 || after === GT || after === SLASH) {
        const end = this.fastCell(buf, lt);
        if (end !== MORE) return end;
      }
    }
    let p = lt + 1;
    let c = 0;
    let name = this.knownAt(buf, p);
    if (name !== undefined) p += name.length;
    else {
      while (p < n) {
        c = buf.charCodeAt(p);
        if (c === GT || c === SLASH || isSpace(c)) break;
        p++;
      }
      if (p >= n) return MORE;
      name = buf.slice(lt + 1, p);
      this.checkName(name, p + 1, 'an element name');
    }
    if (this.stack.length === 0 && this.rootSeen) this.failAt(p, 'a second root element: an XML part has one.');
    let attrs: Record<string, string> = NO_ATTRIBUTES;
    let declared: Map<string, string> | undefined;
    let first: string | undefined;
    let more: string[] | undefined;
    let many: Set<string> | undefined;
    let empty = false;
    for (;;) {
      let spaced = false;
      while (p < n && isSpace((c = buf.charCodeAt(p)))) {
        p++;
        spaced = true;
      }
      if (p >= n) return MORE;
      if (c === GT) {
        p++;
        break;
      }
      if (c === SLASH) {
        if (p + 1 >= n) return MORE;
        if (buf.charCodeAt(p + 1) !== GT) this.failAt(p + 2, 'forward-slash in opening tag not followed by >.');
        p += 2;
        empty = true;
        break;
      }
      if (!spaced) this.failAt(p + 1, 'no whitespace between attributes.');
      let an = this.knownAt(buf, p);
      const met = an !== undefined;
      if (an !== undefined) p += an.length;
      else {
        const a0 = p;
        while (p < n) {
          c = buf.charCodeAt(p);
          if (c === EQ || c === GT || c === SLASH || isSpace(c)) break;
          p++;
        }
        if (p >= n) return MORE;
        an = buf.slice(a0, p);
      }
      while (p < n && isSpace((c = buf.charCodeAt(p)))) p++;
      if (p >= n) return MORE;
      if (c !== EQ) this.failAt(p + 1, `attribute without value: ${JSON.stringify(an.slice(0, 40))}`);
      if (!met) this.checkName(an, p + 1, 'an attribute name');
      p++;
      while (p < n && isSpace((c = buf.charCodeAt(p)))) p++;
      if (p >= n) return MORE;
      if (c !== DQUOTE && c !== SQUOTE) this.failAt(p + 1, 'unquoted attribute value.');
      const q = c;
      // To the closing quote, noting what needs more than a slice: <, &, a tab or line end.
      let v = p + 1;
      let special = false;
      while (v < n) {
        c = buf.charCodeAt(v);
        if (c === q) break;
        if (c === LT) this.failAt(v + 1, 'disallowed character.');
        if (c === AMP || c === 9 || c === 10 || c === CR) special = true;
        v++;
      }
      if (v >= n) return MORE;
      let value = buf.slice(p + 1, v);
      if (special) {
        // Attribute-value normalization (XML 1.0 3.3.3): a literal line end or tab is a space.
        value = value.replace(/\r\n|[\t\n\r]/g, ' ');
        if (value.indexOf('&') >= 0) {
          try {
            value = expandRefs(value);
          } catch (e) {
            this.failAt(v + 1, (e as Error).message);
          }
        }
      }
      // Duplicates: the first name, then a short list, then a set (a hostile tag with thousands of
      // attributes must not cost their square).
      if (first === undefined) first = an;
      else if (an === first || (more !== undefined && more.includes(an)) || many?.has(an) === true)
        this.failAt(v + 1, `duplicate attribute: ${an}.`);
      else if (many !== undefined) many.add(an);
      else if ((more ??= []).push(an) > 8) many = new Set(more);
      if (attrs === NO_ATTRIBUTES) attrs = {};
      attrs[an] = value;
      // xmlns or xmlns:p (x = 120, : = 58); "xmlns:" alone declares nothing (a prefix is a name).
      if (
        an.charCodeAt(0) === 120 &&
        an.startsWith('xmlns') &&
        (an.length === 5 || (an.charCodeAt(5) === 58 && an.length > 6))
      )
        (declared ??= new Map()).set(an.slice(6), value);
      p = v + 1;
    }
    this.rootSeen = true;
    this.stack.push(name);
    // Where the handler's own errors (an unbound prefix, too deep) point: after the tag.
    this.at = p;
    this.ev.open(name, attrs, declared);
    if (empty) {
      this.stack.pop();
      this.ev.close(name);
    }
    return p;
  }

  private endTag(buf: string, lt: number): number {
    const open = this.stack[this.stack.length - 1];
    // The usual case: the name of the element open, then '>'.
    if (open !== undefined) {
      const gt = lt + 2 + open.length;
      if (buf.charCodeAt(gt) === GT && buf.startsWith(open, lt + 2)) {
        this.stack.pop();
        this.at = gt + 1;
        this.ev.close(open);
        return gt + 1;
      }
    }
    const gt = buf.indexOf('>', lt + 2);
    if (gt < 0) return MORE;
    const name = buf.slice(lt + 2, gt).trimEnd();
    if (open !== name) {
      this.failAt(
        gt + 1,
        open === undefined
          ? `unexpected close tag: ${name.slice(0, 40)}`
          : `unexpected close tag: ${name.slice(0, 40)} (the open tag is ${open})`,
      );
    }
    this.stack.pop();
    this.at = gt + 1;
    this.ev.close(name);
    return gt + 1;
  }

  /** `<!--`, `<![CDATA[` or `<!DOCTYPE`. */
  private bang(buf: string, lt: number): number {
    const n = buf.length;
    if (buf.startsWith('<!--', lt)) {
      const end = buf.indexOf('-->', lt + 4);
      if (end < 0) return MORE;
      const body = buf.slice(lt + 4, end);
      if (body.indexOf('--') >= 0 || body.endsWith('-')) this.failAt(end + 3, 'double dash in comment.');
      return end + 3;
    }
    if (buf.startsWith('<![CDATA[', lt)) {
      const end = buf.indexOf(']]>', lt + 9);
      if (end < 0) return MORE;
      if (this.stack.length === 0) this.failAt(end + 3, 'text data outside of root node.');
      const t = normalizeEol(buf.slice(lt + 9, end));
      this.at = end + 3;
      if (t.length > 0) this.ev.text(t);
      return end + 3;
    }
    if (buf.startsWith('<!DOCTYPE', lt)) {
      // To its end: quoted strings, and an internal subset in [ ], may hold a '>'.
      let subset = false;
      for (let p = lt + 9; p < n; p++) {
        const c = buf.charCodeAt(p);
        if (c === DQUOTE || c === SQUOTE) {
          const q = buf.indexOf(c === DQUOTE ? '"' : "'", p + 1);
          if (q < 0) return MORE;
          p = q;
        } else if (c === 91) subset = true;
        else if (c === 93) subset = false;
        else if (c === GT && !subset) {
          this.at = p + 1;
          this.ev.doctype();
          return p + 1;
        }
      }
      return MORE;
    }
    // Too short to tell yet, or markup XML does not have.
    const want = ['<!--', '<![CDATA[', '<!DOCTYPE'];
    if (want.some((w) => w.startsWith(buf.slice(lt, Math.min(n, lt + w.length))) && n - lt < w.length)) return MORE;
    this.failAt(lt + 2, 'disallowed markup: <!');
  }

  /** A processing instruction: ignored, but the XML declaration is allowed only at the part's start. */
  private instruction(buf: string, lt: number): number {
    const end = buf.indexOf('?>', lt + 2);
    if (end < 0) return MORE;
    let t = lt + 2;
    while (t < end && !isSpace(buf.charCodeAt(t))) t++;
    const target = buf.slice(lt + 2, t);
    this.checkName(target, end + 2, 'a processing instruction target');
    if (target.toLowerCase() === 'xml') {
      // At the very start: after a byte-order mark at most.
      const first = this.base + lt === 0 || (this.base + lt === 1 && buf.charCodeAt(0) === 0xfeff && this.base === 0);
      if (!first || target !== 'xml') this.failAt(end + 2, 'an XML declaration must be at the start of the document.');
    }
    return end + 2;
  }
}

function normalizeEol(s: string): string {
  return s.indexOf('\r') >= 0 ? s.replace(/\r\n?/g, '\n') : s;
}

/** Whether XML 1.0 allows the code point as a character (production 2). */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** Expands the five predefined entities and character references; anything else is an error (thrown). */
export function expandRefs(s: string): string {
  let out = '';
  let last = 0;
  for (let a = s.indexOf('&'); a >= 0; a = s.indexOf('&', last)) {
    const semi = s.indexOf(';', a + 1);
    // The longest reference XML knows fits in 12 characters (&#x10FFFF; and the like, leading zeros aside).
    if (semi < 0 || semi - a > 40) throw new Error('an entity reference without its ";".');
    const name = s.slice(a + 1, semi);
    let rep: string;
    switch (name) {
      case 'lt':
        rep = '<';
        break;
      case 'gt':
        rep = '>';
        break;
      case 'amp':
        rep = '&';
        break;
      case 'quot':
        rep = '"';
        break;
      case 'apos':
        rep = "'";
        break;
      default: {
        const cp = /^#x[0-9a-fA-F]+$/.test(name)
          ? parseInt(name.slice(2), 16)
          : /^#[0-9]+$/.test(name)
            ? parseInt(name.slice(1), 10)
            : NaN;
        if (Number.isNaN(cp)) {
          throw new Error(
            name.startsWith('#') ? `malformed character entity: &${name};` : `undefined entity: &${name};`,
          );
        }
        if (!isXmlChar(cp)) throw new Error(`a character reference to a character XML does not allow: &${name};`);
        rep = String.fromCodePoint(cp);
      }
    }
    out += s.slice(last, a) + rep;
    last = semi + 1;
  }
  return last === 0 ? s : out + s.slice(last);
}
