/** Patterns of credentials that must never reach a log, a dead-letter record, an email or an error message. */
const SECRET_PATTERNS: RegExp[] = [
  /SG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // SendGrid API keys
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /(Bearer\s+)[A-Za-z0-9._~+/-]+=*/gi,
  // A quoted value is redacted whole (spaces and all); a bare one up to a separator. The keyword
  // may be part of a longer name: AWS_SECRET_ACCESS_KEY=..., "db_password": "...".
  /((?:secret|password|passwd|api[_-]?key|token|authorization)[\w-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s"',;&]+)/gi,
  /(:\/\/[^/\s:@]+:)[^@\s/]+@/g, // credentials in URLs
];

/**
 * Replaces anything that looks like a credential with `[redacted]`.
 *
 * @example redactSecrets('key SG.abcdefgh12.ijklmnop34 refused') // 'key [redacted] refused'
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const p of SECRET_PATTERNS) {
    out = out.replace(p, (m, prefix: unknown) =>
      typeof prefix === 'string' && m.startsWith(prefix) && /[:=/\s]$|:\/\//.test(prefix)
        ? `${prefix}[redacted]${m.endsWith('@') ? '@' : ''}`
        : '[redacted]',
    );
  }
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
