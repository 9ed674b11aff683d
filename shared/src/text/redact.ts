/**
 * Patterns of credentials that must never reach a log, a dead-letter record, an email or an error
 * message. `keep`: the pattern's first group is the name of the setting (or the scheme and user of
 * a URL), kept before `[redacted]`.
 */
const SECRET_PATTERNS: { re: RegExp; keep: boolean }[] = [
  { re: /SG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, keep: false }, // SendGrid API keys
  { re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, keep: false }, // AWS access key ids
  { re: /(Bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, keep: true },
  // A quoted value is redacted whole (spaces and all); a bare one up to a separator. The keyword
  // may be part of a longer name: AWS_SECRET_ACCESS_KEY=..., "db_password": "...".
  {
    re: /((?:secret|password|passwd|api[_-]?key|token|authorization)[\w-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s"',;&]+)/gi,
    keep: true,
  },
  { re: /(:\/\/[^/\s:@]+:)[^@\s/]+@/g, keep: true }, // credentials in URLs, the @ kept
];

/**
 * Replaces anything that looks like a credential with `[redacted]`.
 *
 * @example redactSecrets('key SG.abcdefgh12.ijklmnop34 refused') // 'key [redacted] refused'
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const { re, keep } of SECRET_PATTERNS)
    out = keep
      ? out.replace(re, (m, name: string) => `${name}[redacted]${m.endsWith('@') ? '@' : ''}`)
      : out.replace(re, '[redacted]');
  return out;
}

/** Escapes text for an HTML email body. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
