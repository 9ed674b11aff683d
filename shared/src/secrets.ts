import { readFileSync, statSync } from 'node:fs';
import { BottleneckError, createError } from './errors/index.js';

/** A secret file larger than this is a wrong path (a log, a dump), not a key. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

type Env = Record<string, string | undefined>;

function configError(message: string): BottleneckError {
  return createError('BN_ERR_CONFIG_INVALID', message);
}

/**
 * Reads a secret from `env[name]`, or from the file named by `env[name + '_FILE']` (the Docker and
 * Kubernetes secrets convention), trimmed. Returns undefined when neither variable is set. Setting
 * both is refused, so that a stale value cannot silently win over the mounted file.
 *
 * Errors name the variables and the file path, never the value.
 */
export function readOptionalSecret(name: string, env: Env = process.env): string | undefined {
  const fileVar = `${name}_FILE`;
  const direct = env[name];
  const file = env[fileVar];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile)
    throw configError(`${name} and ${fileVar} are both set: set only one (${fileVar} names a file holding the secret)`);
  if (hasDirect) {
    const value = direct.trim();
    if (!value) throw configError(`${name} is set but blank: give the secret, or unset it and set ${fileVar}`);
    return value;
  }
  if (!hasFile) return undefined;
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_SECRET_FILE_BYTES)
      throw configError(
        `${fileVar} names ${file}, which holds ${size} bytes: a secret file holds at most ${MAX_SECRET_FILE_BYTES} bytes; check the path`,
      );
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof BottleneckError) throw e;
    const code = (e as { code?: string }).code ?? 'unknown error';
    throw configError(
      `${fileVar} names ${file}, which cannot be read (${code}): mount the secret there or fix the path`,
    );
  }
  const value = text.trim();
  if (!value) throw configError(`${fileVar} names ${file}, which is empty: write the secret into it`);
  return value;
}

/**
 * Like {@link readOptionalSecret}, but a missing secret is an error (BN_ERR_CONFIG_INVALID).
 *
 * @example
 * const apiKey = readSecret('SENDGRID_API_KEY'); // env SENDGRID_API_KEY, or the file named by SENDGRID_API_KEY_FILE
 */
export function readSecret(name: string, env: Env = process.env): string {
  const value = readOptionalSecret(name, env);
  if (value === undefined)
    throw configError(`${name} is not set: set it, or set ${name}_FILE to the path of a file holding it`);
  return value;
}
