import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOptionalSecret, readSecret } from './secrets.js';

const KEY = 'SG.abcdefgh12345.ijklmnop67890';

describe('readSecret', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bn-secrets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the variable itself, trimmed', () => {
    expect(readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY: `  ${KEY}\n` })).toBe(KEY);
  });

  it('reads the file named by <NAME>_FILE, trimmed (a trailing newline is usual in mounted secrets)', async () => {
    const path = join(dir, 'sendgrid');
    await writeFile(path, `${KEY}\n`);
    expect(readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY_FILE: path })).toBe(KEY);
  });

  it('treats an empty variable as unset, so an empty VAR= beside VAR_FILE is not a conflict', async () => {
    const path = join(dir, 'sendgrid-2');
    await writeFile(path, KEY);
    expect(readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY: '', SENDGRID_API_KEY_FILE: path })).toBe(KEY);
  });

  it('refuses a missing secret, naming both variables', () => {
    expect(() => readSecret('SENDGRID_API_KEY', {})).toThrow(
      expect.objectContaining({
        code: 'BN_ERR_CONFIG_INVALID',
        retriable: false,
        message: 'SENDGRID_API_KEY is not set: set it, or set SENDGRID_API_KEY_FILE to the path of a file holding it',
      }),
    );
  });

  it('refuses both variables at once, without the value in the message', async () => {
    const path = join(dir, 'both');
    await writeFile(path, KEY);
    let err: unknown;
    try {
      readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY: KEY, SENDGRID_API_KEY_FILE: path });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'BN_ERR_CONFIG_INVALID',
      message:
        'SENDGRID_API_KEY and SENDGRID_API_KEY_FILE are both set: set only one (SENDGRID_API_KEY_FILE names a file holding the secret)',
    });
    expect(String((err as Error).message)).not.toContain(KEY);
  });

  it('refuses a blank variable', () => {
    expect(() => readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY: ' \n ' })).toThrow(
      'SENDGRID_API_KEY is set but blank: give the secret, or unset it and set SENDGRID_API_KEY_FILE',
    );
  });

  it('refuses an unreadable file, naming the variable and the path', () => {
    const path = join(dir, 'absent');
    expect(() => readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY_FILE: path })).toThrow(
      `SENDGRID_API_KEY_FILE names ${path}, which cannot be read (ENOENT): mount the secret there or fix the path`,
    );
  });

  it('refuses an empty file', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '\n');
    expect(() => readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY_FILE: path })).toThrow(
      `SENDGRID_API_KEY_FILE names ${path}, which is empty: write the secret into it`,
    );
  });

  it('refuses a file too large to be a secret, without reading it', async () => {
    const path = join(dir, 'large');
    await writeFile(path, Buffer.alloc(64 * 1024 + 1, 0x61));
    expect(() => readSecret('SENDGRID_API_KEY', { SENDGRID_API_KEY_FILE: path })).toThrow(
      `SENDGRID_API_KEY_FILE names ${path}, which holds 65537 bytes: a secret file holds at most 65536 bytes; check the path`,
    );
  });

  it('reads process.env by default', () => {
    const name = `BN_TEST_SECRET_${process.pid}`;
    process.env[name] = 'from-env';
    try {
      expect(readSecret(name)).toBe('from-env');
    } finally {
      delete process.env[name];
    }
  });
});

describe('readOptionalSecret', () => {
  it('is undefined when neither variable is set', () => {
    expect(readOptionalSecret('S3_SECRET_ACCESS_KEY', {})).toBeUndefined();
  });

  it('still refuses a blank variable (set but unusable is a mistake, not an absence)', () => {
    expect(() => readOptionalSecret('S3_SECRET_ACCESS_KEY', { S3_SECRET_ACCESS_KEY: ' ' })).toThrow(
      'S3_SECRET_ACCESS_KEY is set but blank: give the secret, or unset it and set S3_SECRET_ACCESS_KEY_FILE',
    );
  });
});
