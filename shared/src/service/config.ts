import { tmpdir } from 'node:os';
import type { Stage } from '../assets/keys.js';
import { BottleneckError } from '../errors/index.js';
import { readOptionalSecret } from '../secrets.js';
import { VARIABLES, variablesOf, type VariableSpec } from './variables.js';

export type ConfigValue = string | number | boolean | string[] | undefined;
/** A service's configuration: variable name -> parsed value. */
export type ServiceConfig = Readonly<Record<string, ConfigValue>>;

function invalid(name: string, why: string): BottleneckError {
  return new BottleneckError('BN_ERR_CONFIG_INVALID', `configuration: ${name} ${why}`);
}

function rawValue(v: VariableSpec, env: NodeJS.ProcessEnv): string | undefined {
  // Secrets may come from a file (Docker secrets): readOptionalSecret refuses both set, blank or unreadable files.
  if (v.secret) return readOptionalSecret(v.name, env);
  const direct = env[v.name];
  return direct === '' ? undefined : direct;
}

function parse(v: VariableSpec, raw: string): ConfigValue {
  // Messages never echo a secret's value.
  const shown = v.secret ? '(value hidden)' : JSON.stringify(raw);
  switch (v.kind) {
    case 'int': {
      if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw))) throw invalid(v.name, `must be a whole number (got ${shown})`);
      return Number(raw);
    }
    case 'bool': {
      const s = raw.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(s)) return true;
      if (['false', '0', 'no'].includes(s)) return false;
      throw invalid(v.name, `must be true or false (got ${shown})`);
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
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
      if (!v.values!.includes(raw)) throw invalid(v.name, `must be one of ${v.values!.join(', ')} (got ${shown})`);
      return raw;
    }
    default:
      return raw;
  }
}

/**
 * Reads and validates a service's configuration from the environment, once, at start: a missing
 * or invalid setting, or an unknown BN_* variable (a typo), throws BN_ERR_CONFIG_INVALID naming it.
 * Secrets may come from `<NAME>_FILE`; their values never appear in messages.
 */
export function loadConfig(stage: Stage, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const known = new Set(VARIABLES.flatMap((v) => [v.name, `${v.name}_FILE`]));
  const unknown = Object.keys(env).filter((k) => k.startsWith('BN_') && !known.has(k));
  if (unknown.length) throw invalid(unknown.sort().join(', '), `${unknown.length > 1 ? 'are' : 'is'} not a known setting (see the README's configuration table)`);
  const out: Record<string, ConfigValue> = {};
  for (const v of variablesOf(stage)) {
    const raw = rawValue(v, env) ?? v.default;
    if (raw === undefined) {
      if (v.required) throw invalid(v.name, `is required by the ${stage} service${v.secret ? ` (or ${v.name}_FILE)` : ''}`);
      out[v.name] = undefined;
      continue;
    }
    out[v.name] = parse(v, raw);
  }
  if (out.KAFKA_SASL_MECHANISM && (!out.KAFKA_SASL_USERNAME || !out.KAFKA_SASL_PASSWORD)) throw invalid('KAFKA_SASL_MECHANISM', 'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  if (Boolean(out.S3_ACCESS_KEY_ID) !== Boolean(out.S3_SECRET_ACCESS_KEY)) throw invalid('S3_ACCESS_KEY_ID', 'and S3_SECRET_ACCESS_KEY go together');
  out.KAFKA_CLIENT_ID ??= `bottleneck-${stage}`;
  out.BN_WORK_DIR ??= tmpdir();
  return out;
}

/** The configuration with secrets masked: what /status may show and logs may print. */
export function redactedConfig(stage: Stage, config: ServiceConfig): Record<string, ConfigValue> {
  return Object.fromEntries(variablesOf(stage).map((v) => [v.name, v.secret && config[v.name] !== undefined ? '[secret]' : config[v.name]]));
}
