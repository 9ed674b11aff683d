import { tmpdir } from 'node:os';
import type { Stage } from '../assets/keys.js';
import { BottleneckError, createError } from '../errors/index.js';
import { readOptionalSecret } from '../secrets.js';
import { VARIABLES, variablesOf, type ConfigFor, type ConfigUser, type VariableSpec } from './variables.js';

export type ConfigValue = string | number | boolean | string[] | undefined;
/** A service's configuration, typed from the variables table. */
export type ServiceConfig<S extends ConfigUser = Stage> = ConfigFor<S>;

function invalid(name: string, why: string): BottleneckError {
  return createError('BN_ERR_CONFIG_INVALID', `configuration: ${name} ${why}`);
}

function rawValue(v: VariableSpec, env: NodeJS.ProcessEnv): string | undefined {
  // Secrets may come from a file (Docker secrets): readOptionalSecret refuses both set, blank or unreadable files.
  if (v.secret) return readOptionalSecret(v.name, env);
  const direct = env[v.name];
  return direct === '' ? undefined : direct;
}

function inRange(v: VariableSpec, n: number, shown: string): void {
  if (v.min !== undefined && n < v.min)
    throw invalid(
      v.name,
      `must be ${v.min % 1 === 0 ? `at least ${v.min}` : `above ${Math.floor(v.min)}`} (got ${shown})`,
    );
  if (v.max !== undefined && n > v.max) throw invalid(v.name, `must be at most ${v.max} (got ${shown})`);
}

function parse(v: VariableSpec, raw: string): ConfigValue {
  // Messages never echo a secret's value.
  const shown = v.secret ? '(value hidden)' : JSON.stringify(raw);
  switch (v.kind) {
    case 'int': {
      if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw)))
        throw invalid(v.name, `must be a whole number (got ${shown})`);
      inRange(v, Number(raw), shown);
      return Number(raw);
    }
    case 'decimal': {
      const t = raw.trim();
      if (!/^\d{1,9}(\.\d{1,4})?$/.test(t))
        throw invalid(v.name, `must be a number such as 30 or 2.5, at most 4 decimals (got ${shown})`);
      inRange(v, Number(t), shown);
      return t;
    }
    case 'bool': {
      const s = raw.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(s)) return true;
      if (['false', '0', 'no'].includes(s)) return false;
      throw invalid(v.name, `must be true or false (got ${shown})`);
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!items.length) throw invalid(v.name, 'must list at least one value');
      return items;
    }
    case 'url': {
      try {
        const u = new URL(raw);
        if (!/^https?:$/.test(u.protocol)) throw new Error();
      } catch {
        throw invalid(v.name, `must be an http(s) URL (got ${shown})`);
      }
      return raw.replace(/\/+$/, '');
    }
    case 'enum': {
      const values = v.values ?? [];
      if (!values.includes(raw)) throw invalid(v.name, `must be one of ${values.join(', ')} (got ${shown})`);
      return raw;
    }
    default:
      return raw;
  }
}

/**
 * Reads and validates the configuration of a service (or of the CLI) from the environment, once,
 * at start: a missing or invalid setting, or an unknown BN_* variable (a typo), throws
 * BN_ERR_CONFIG_INVALID naming it. Secrets may come from `<NAME>_FILE`; their values never appear
 * in messages. The result is typed from the variables table (`ConfigFor<'merge'>`).
 */
export function loadConfig<U extends ConfigUser>(user: U, env: NodeJS.ProcessEnv = process.env): ConfigFor<U> {
  const known = new Set(VARIABLES.flatMap((v) => [v.name, `${v.name}_FILE`]));
  const unknown = Object.keys(env).filter((k) => k.startsWith('BN_') && !known.has(k));
  if (unknown.length)
    throw invalid(
      unknown.sort().join(', '),
      `${unknown.length > 1 ? 'are' : 'is'} not a known setting (see the README's configuration table)`,
    );
  const out: Record<string, ConfigValue> = {};
  const who = user === 'cli' ? 'bottleneck command' : `${user} service`;
  for (const v of variablesOf(user)) {
    const raw = rawValue(v, env) ?? (user === 'cli' && v.cliDefault !== undefined ? v.cliDefault : v.default);
    if (raw === undefined) {
      if (v.required && user !== 'cli')
        throw invalid(v.name, `is required by the ${who}${v.secret ? ` (or ${v.name}_FILE)` : ''}`);
      out[v.name] = undefined;
      continue;
    }
    out[v.name] = parse(v, raw);
  }
  if (out.KAFKA_SASL_MECHANISM && (!out.KAFKA_SASL_USERNAME || !out.KAFKA_SASL_PASSWORD))
    throw invalid('KAFKA_SASL_MECHANISM', 'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  if (Boolean(out.S3_ACCESS_KEY_ID) !== Boolean(out.S3_SECRET_ACCESS_KEY))
    throw invalid('S3_ACCESS_KEY_ID', 'and S3_SECRET_ACCESS_KEY go together');
  if (user !== 'cli') {
    out.KAFKA_CLIENT_ID ??= `bottleneck-${user}`;
    out.BN_WORK_DIR ??= tmpdir();
  } else {
    out.KAFKA_CLIENT_ID ??= 'bottleneck-cli';
  }
  // The one place the table's types meet the parsed values: each value was parsed by its kind above.
  return out as ConfigFor<U>;
}

/** The configuration with secrets masked: what /status may show and logs may print. */
export function redactedConfig(user: ConfigUser, config: object): Record<string, unknown> {
  const values = config as Record<string, unknown>;
  return Object.fromEntries(
    variablesOf(user).map((v) => [v.name, v.secret && values[v.name] !== undefined ? '[secret]' : values[v.name]]),
  );
}
