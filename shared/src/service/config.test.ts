import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, redactedConfig } from './config.js';
import { VARIABLES } from './variables.js';

const BASE = { KAFKA_BROKERS: 'k1:9092, k2:9092', S3_BUCKET: 'bottleneck' };

describe('service configuration', () => {
  it('applies defaults and parses types', () => {
    const c = loadConfig('merge', BASE);
    expect(c.KAFKA_BROKERS).toEqual(['k1:9092', 'k2:9092']);
    expect(c.HTTP_PORT).toBe(8080);
    expect(c.S3_FORCE_PATH_STYLE).toBe(false);
    expect(c.KAFKA_CLIENT_ID).toBe('bottleneck-merge');
    expect(c).not.toHaveProperty('SENDGRID_API_KEY');
  });

  it('names a missing required setting', () => {
    expect(() => loadConfig('clean', { S3_BUCKET: 'b' })).toThrow('configuration: KAFKA_BROKERS is required by the clean service');
    expect(() => loadConfig('alerter', { ...BASE, ALERT_TO: 'a@x', ALERT_FROM: 'p@x' })).toThrow('configuration: SENDGRID_API_KEY is required by the alerter service (or SENDGRID_API_KEY_FILE)');
  });

  it('names an invalid setting without echoing a secret', () => {
    expect(() => loadConfig('merge', { ...BASE, HTTP_PORT: 'eighty' })).toThrow('configuration: HTTP_PORT must be a whole number (got "eighty")');
    expect(() => loadConfig('merge', { ...BASE, LOG_LEVEL: 'loud' })).toThrow('configuration: LOG_LEVEL must be one of debug, info, warn, error (got "loud")');
    expect(() => loadConfig('merge', { ...BASE, S3_ACCESS_KEY_ID: 'id' })).toThrow('configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together');
  });

  it('refuses an unknown BN_ variable (a typo) and ignores the rest of the environment', () => {
    expect(() => loadConfig('merge', { ...BASE, BN_POLL_INTERVALL_MS: '5', PATH: '/bin' })).toThrow('configuration: BN_POLL_INTERVALL_MS is not a known setting (see the README\'s configuration table)');
  });

  it('reads a secret from the file named by <NAME>_FILE and masks it in the redacted view', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-secret-'));
    await writeFile(join(dir, 'key'), 'SG.test-key-value.not-a-real-one\n');
    const c = loadConfig('alerter', { ...BASE, ALERT_TO: 'a@x.example', ALERT_FROM: 'p@x.example', SENDGRID_API_KEY_FILE: join(dir, 'key') });
    expect(c.SENDGRID_API_KEY).toBe('SG.test-key-value.not-a-real-one');
    expect(JSON.stringify(redactedConfig('alerter', c))).not.toContain('not-a-real-one');
    expect(redactedConfig('alerter', c).SENDGRID_API_KEY).toBe('[secret]');
  });

  it('has one row per variable in the README table, with its services, meaning and default', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const v of VARIABLES) {
      const dflt = v.required ? '**required**' : v.default === undefined ? 'unset' : v.default === '' ? 'empty' : `\`${v.default}\``;
      const row = `| \`${v.name}\` | ${v.services === 'all' ? 'all' : v.services.join(', ')} | ${v.meaning}${v.secret ? ' (secret)' : ''} | ${dflt} |`;
      expect(readme, v.name).toContain(row);
    }
  });
});
