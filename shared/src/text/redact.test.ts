import { describe, expect, it } from 'vitest';
import { escapeHtml, redactSecrets } from './redact.js';

// AWS's documented example key id, split so that secret scanners do not flag a fake.
const FAKE_AWS_KEY_ID = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');

describe('redactSecrets', () => {
  it('redacts a SendGrid API key and an AWS access key id', () => {
    expect(redactSecrets('key SG.abcdefgh12.ijklmnop34 refused')).toBe('key [redacted] refused');
    expect(redactSecrets(`InvalidAccessKeyId: ${FAKE_AWS_KEY_ID} does not exist`)).toBe(
      'InvalidAccessKeyId: [redacted] does not exist',
    );
    expect(redactSecrets('session ASIAY34FZKBOKMUTVV7A')).toBe('session [redacted]');
  });

  it('keeps the name of a setting and redacts its value', () => {
    expect(redactSecrets('password=hunter2 user=bob')).toBe('password=[redacted] user=bob');
    expect(redactSecrets('api_key: abc123def')).toBe('api_key: [redacted]');
    expect(redactSecrets('X-Api-Key: abc')).toBe('X-Api-Key: [redacted]');
    expect(redactSecrets('https://h/x?token=abc&next=1')).toBe('https://h/x?token=[redacted]&next=1');
    expect(redactSecrets('SECRET = s3cr3t')).toBe('SECRET = [redacted]');
  });

  it('redacts a bearer token', () => {
    expect(redactSecrets('sent Bearer eyJhbGciOi.eyJzdWIi.sig_-x== to')).toBe('sent Bearer [redacted] to');
  });

  it('redacts the password of credentials in a URL, keeping user and host', () => {
    expect(redactSecrets('connect postgres://bn:pa55word@db.internal:5432/x failed')).toBe(
      'connect postgres://bn:[redacted]@db.internal:5432/x failed',
    );
  });

  it('redacts a password in JSON', () => {
    expect(redactSecrets('{"user":"bob","password":"hunter2"}')).not.toContain('hunter2');
  });

  it('leaves text without secrets unchanged and is idempotent', () => {
    const plain = 'erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number';
    expect(redactSecrets(plain)).toBe(plain);
    const once = redactSecrets('password=x SG.abcdefgh12.ijklmnop34');
    expect(redactSecrets(once)).toBe(once);
  });

  it('redacts an AWS secret access key given by its variable name', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    expect(redactSecrets(`AWS_SECRET_ACCESS_KEY=${secret}`)).not.toContain(secret);
    expect(redactSecrets(`aws_secret_access_key = ${secret}`)).not.toContain(secret);
  });

  it('redacts the whole of a quoted secret that holds a space', () => {
    expect(redactSecrets('{"password":"correct horse battery"}')).not.toMatch(/horse|battery/);
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>Tom & Jerry</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;',
    );
  });

  it('escapes & first, so existing entities are shown, not interpreted', () => {
    expect(escapeHtml('&lt;b&gt;')).toBe('&amp;lt;b&amp;gt;');
  });

  it('leaves other text unchanged', () => {
    expect(escapeHtml('Ch\u00e2teau \u2713 24.20 EUR')).toBe('Ch\u00e2teau \u2713 24.20 EUR');
  });
});

describe('redactSecrets, whole outputs', () => {
  it.each([
    ['key SG.abcdefgh12.ijklmnop34 refused', 'key [redacted] refused'],
    [`id ${FAKE_AWS_KEY_ID} here`, 'id [redacted] here'],
    ['sent Bearer   abc123token.x= ok', 'sent Bearer   [redacted] ok'],
    ['apikey=abc123 next', 'apikey=[redacted] next'],
    ['api-key: "a b" next', 'api-key: [redacted] next'],
    ['TOKEN = xyz;rest', 'TOKEN = [redacted];rest'],
    ["passwd='p w' x", 'passwd=[redacted] x'],
    ['x-api_key_id=zz&y=1', 'x-api_key_id=[redacted]&y=1'],
    ['https://user:pa55@host/x', 'https://user:[redacted]@host/x'],
  ])('%s', (input, output) => {
    expect(redactSecrets(input)).toBe(output);
  });
});
