import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, redactedConfig } from './config.js';
import { VARIABLES, variablesTable } from './variables.js';

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
    expect(() => loadConfig('clean', { S3_BUCKET: 'b' })).toThrow(
      'configuration: KAFKA_BROKERS is required by the clean service',
    );
    expect(() => loadConfig('alerter', { ...BASE, ALERT_TO: 'a@x', ALERT_FROM: 'p@x' })).toThrow(
      'configuration: SENDGRID_API_KEY is required by the alerter service (or SENDGRID_API_KEY_FILE)',
    );
  });

  it('names an invalid setting without echoing a secret', () => {
    expect(() => loadConfig('merge', { ...BASE, HTTP_PORT: 'eighty' })).toThrow(
      'configuration: HTTP_PORT must be a whole number (got "eighty")',
    );
    expect(() => loadConfig('merge', { ...BASE, LOG_LEVEL: 'loud' })).toThrow(
      'configuration: LOG_LEVEL must be one of debug, info, warn, error (got "loud")',
    );
    expect(() => loadConfig('merge', { ...BASE, S3_ACCESS_KEY_ID: 'id' })).toThrow(
      'configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together',
    );
  });

  it('reads the month-over-month thresholds as exact decimal text, and refuses what is not one', () => {
    const c = loadConfig('merge', { ...BASE, BN_MOM_REVENUE_CHANGE_PCT: '12.5', BN_MOM_PRICE_RATIO: '1.5' });
    expect([c.BN_MOM_REVENUE_CHANGE_PCT, c.BN_MOM_PRICE_RATIO, c.BN_MOM_PRODUCTS_CHURN_PCT]).toEqual([
      '12.5',
      '1.5',
      '10',
    ]);
    expect(() => loadConfig('merge', { ...BASE, BN_MOM_REVENUE_CHANGE_PCT: 'thirty' })).toThrow(
      'configuration: BN_MOM_REVENUE_CHANGE_PCT must be a number such as 30 or 2.5, at most 4 decimals (got "thirty")',
    );
    expect(() => loadConfig('merge', { ...BASE, BN_MOM_PRODUCT_COUNT_CHANGE_PCT: '-5' })).toThrow(
      'configuration: BN_MOM_PRODUCT_COUNT_CHANGE_PCT must be a number such as 30 or 2.5, at most 4 decimals (got "-5")',
    );
    expect(() => loadConfig('cli', { BN_MOM_PRICE_RATIO: '1' })).toThrow(
      'configuration: BN_MOM_PRICE_RATIO must be above 1 (got "1")',
    );
    expect(loadConfig('cli', { BN_MOM_PRICE_RATIO: '1.0001' }).BN_MOM_PRICE_RATIO).toBe('1.0001');
  });

  it('refuses an unknown BN_ variable (a typo) and ignores the rest of the environment', () => {
    expect(() => loadConfig('merge', { ...BASE, BN_POLL_INTERVALL_MS: '5', PATH: '/bin' })).toThrow(
      "configuration: BN_POLL_INTERVALL_MS is not a known setting (see the README's configuration table)",
    );
  });

  it('gives the command line the same table and rules: its own defaults, no service setting required, TLS and SASL for trigger', async () => {
    const c = loadConfig('cli', {});
    expect(c.BN_EXCEL_WORKERS).toBe(0);
    expect(c.BN_MAX_READ_MS).toBe(120_000);
    expect(c.KAFKA_BROKERS).toBeUndefined();
    // The bucket only for `reexecute` against the services, never required; a service-only setting is not there.
    expect(c.S3_BUCKET).toBeUndefined();
    expect(c).not.toHaveProperty('S3_EVENTS_TOPIC');
    expect(() => loadConfig('cli', { BN_MAX_ROWS: 'many' })).toThrow(
      'configuration: BN_MAX_ROWS must be a whole number (got "many")',
    );
    expect(() => loadConfig('cli', { BN_MAX_ROWZ: '5' })).toThrow(
      "configuration: BN_MAX_ROWZ is not a known setting (see the README's configuration table)",
    );
    const { kafkaSettings } = await import('../wiring.js');
    const cli = loadConfig('cli', {
      KAFKA_BROKERS: 'k:9093',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    expect(kafkaSettings({ ...cli, KAFKA_BROKERS: cli.KAFKA_BROKERS! })).toMatchObject({
      brokers: ['k:9093'],
      ssl: true,
      clientId: 'bottleneck-cli',
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    });
  });

  it('reads a secret from the file named by <NAME>_FILE and masks it in the redacted view', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-secret-'));
    await writeFile(join(dir, 'key'), 'SG.test-key-value.not-a-real-one\n');
    const c = loadConfig('alerter', {
      ...BASE,
      ALERT_TO: 'a@x.example',
      ALERT_FROM: 'p@x.example',
      SENDGRID_API_KEY_FILE: join(dir, 'key'),
    });
    expect(c.SENDGRID_API_KEY).toBe('SG.test-key-value.not-a-real-one');
    expect(JSON.stringify(redactedConfig('alerter', c))).not.toContain('not-a-real-one');
    expect(redactedConfig('alerter', c).SENDGRID_API_KEY).toBe('[secret]');
  });

  it('has the configuration table in the README as the code declares it (npm run docs writes it)', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const block = /<!-- variables:start -->\n([\s\S]*?)<!-- variables:end -->/.exec(readme);
    expect(block?.[1]).toBe(variablesTable());
    for (const v of VARIABLES) expect(block?.[1], v.name).toContain(`| \`${v.name}\` |`);
  });
});
