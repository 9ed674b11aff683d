/** Characters that make a spreadsheet treat a cell as a formula or control input (OWASP CSV injection). */
const DANGEROUS_START = /^[=+\-@\t\r\0]/;

/**
 * Neutralises a text cell for CSV or XLSX export: a value starting with `=`, `+`, `-`, `@`,
 * tab, CR or NUL is prefixed with `'`, as OWASP recommends. Apply to text only; numbers stay numbers.
 *
 * @example neutralizeText('=HYPERLINK("http://x")') // "'=HYPERLINK(\"http://x\")"
 */
export function neutralizeText(s: string): string {
  return DANGEROUS_START.test(s) ? `'${s}` : s;
}
