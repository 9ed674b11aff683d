/**
 * Real test servers for integration tests (vitest globalSetup), started on loopback by
 * scripts/kafka-local.sh and scripts/s3-local.sh (see deploy/test-servers/README.md).
 *
 * Each start honours a server given from outside: with KAFKA_BROKERS (or S3_ENDPOINT) set, that
 * server is used as it is and stop() does nothing. Otherwise the shell script starts one, and
 * stop() stops it and deletes its data. A server not stopped by the time the process exits is
 * stopped then (on a normal exit, not on SIGKILL).
 *
 * Only node built-ins: this file must load before any workspace package is built.
 */
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KAFKA_SCRIPT = path.join(ROOT, 'scripts', 'kafka-local.sh');
const S3_SCRIPT = path.join(ROOT, 'scripts', 's3-local.sh');
/** A cold start fetches jars with Maven first; a warm one takes seconds. */
const START_TIMEOUT_MS = 5 * 60_000;
const STOP_TIMEOUT_MS = 60_000;

export interface KafkaServer {
  /** host:port of each broker, e.g. ['127.0.0.1:41234']. */
  brokers: string[];
  stop(): Promise<void>;
  /** Faults, for a server this process started (null for one given by KAFKA_BROKERS). */
  control: KafkaControl | null;
}

/** Kill and bring back the instance, by its port only (other runs may share this machine). */
export interface KafkaControl {
  /** SIGKILL every node; the data stays. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown); the data stays. */
  stopKeepingData(): Promise<void>;
  /** Starts the killed or stopped nodes again on the same ports with their data; resolves when ready. */
  restart(): Promise<void>;
}

export interface S3Server {
  /** e.g. http://127.0.0.1:41235; use path-style addressing (forcePathStyle: true). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
}

export interface StartKafkaOptions {
  /** 1 (default) or 3 (a 3-node KRaft cluster, replication factor 3, min.insync.replicas 2). */
  brokers?: 1 | 3;
}

export interface StartS3Options {
  /** Buckets to create before the server is handed over. */
  buckets?: string[];
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [script, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout, maxBuffer: 4 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (stderr) process.stderr.write(stderr);
        if (error) {
          reject(new Error(`${path.basename(script)} ${args.join(' ')} failed: ${error.message}`, { cause: error }));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** The KEY=VALUE lines a start script prints on stdout. */
function parseVars(stdout: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2]);
  }
  return vars;
}

function required(vars: Map<string, string>, name: string, script: string): string {
  const value = vars.get(name);
  if (!value) throw new Error(`${path.basename(script)} start printed no ${name}=`);
  return value;
}

/** stop() for a server this process started: once only, and also on process exit if forgotten. */
function stopper(script: string, port: string): () => Promise<void> {
  let stopped = false;
  const onExit = (): void => {
    if (stopped) return;
    stopped = true;
    spawnSync('bash', [script, 'stop', '--port', port], { cwd: ROOT, stdio: 'ignore', timeout: STOP_TIMEOUT_MS });
  };
  process.once('exit', onExit);
  return async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await runScript(script, ['stop', '--port', port], {}, STOP_TIMEOUT_MS);
  };
}

const noop = async (): Promise<void> => {};

function envValue(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

/** Kill and restart the kafka-local.sh instance whose first broker listens on `port`. */
export function kafkaControl(port: string): KafkaControl {
  return {
    kill: async () => {
      await runScript(KAFKA_SCRIPT, ['kill', '--port', port], {}, STOP_TIMEOUT_MS);
    },
    stopKeepingData: async () => {
      await runScript(KAFKA_SCRIPT, ['stop', '--port', port, '--keep-data'], {}, STOP_TIMEOUT_MS);
    },
    restart: async () => {
      await runScript(KAFKA_SCRIPT, ['restart', '--port', port], {}, START_TIMEOUT_MS);
    },
  };
}

export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaServer> {
  const given = envValue('KAFKA_BROKERS');
  if (given) {
    return {
      brokers: given
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
      stop: noop,
      control: null,
    };
  }
  const n = opts.brokers ?? 1;
  if (n !== 1 && n !== 3) throw new Error(`startKafka: brokers must be 1 or 3, not ${String(n)}`);
  const stdout = await runScript(KAFKA_SCRIPT, ['start', '--brokers', String(n)], {}, START_TIMEOUT_MS);
  const brokers = required(parseVars(stdout), 'KAFKA_BROKERS', KAFKA_SCRIPT).split(',');
  const port = brokers[0]?.split(':').pop();
  if (!port) throw new Error(`kafka-local.sh printed an unusable broker list: ${brokers.join(',')}`);
  return { brokers, stop: stopper(KAFKA_SCRIPT, port), control: kafkaControl(port) };
}

export async function startS3(opts: StartS3Options = {}): Promise<S3Server> {
  const given = envValue('S3_ENDPOINT');
  if (given) {
    return {
      endpoint: given,
      accessKeyId: envValue('S3_ACCESS_KEY_ID') ?? 'test',
      secretAccessKey: envValue('S3_SECRET_ACCESS_KEY') ?? 'test',
      region: envValue('S3_REGION') ?? 'us-east-1',
      stop: noop,
    };
  }
  const env: NodeJS.ProcessEnv = opts.buckets?.length ? { S3_BUCKETS: opts.buckets.join(',') } : {};
  const vars = parseVars(await runScript(S3_SCRIPT, ['start'], env, START_TIMEOUT_MS));
  const endpoint = required(vars, 'S3_ENDPOINT', S3_SCRIPT);
  const port = new URL(endpoint).port;
  return {
    endpoint,
    accessKeyId: required(vars, 'S3_ACCESS_KEY_ID', S3_SCRIPT),
    secretAccessKey: required(vars, 'S3_SECRET_ACCESS_KEY', S3_SCRIPT),
    region: required(vars, 'S3_REGION', S3_SCRIPT),
    stop: stopper(S3_SCRIPT, port),
  };
}

/**
 * A suite's own servers for a vitest global setup: Kafka (never KAFKA_BROKERS from outside: the
 * suite kills and restarts its nodes, by port only) and one S3 server, their settings put in the
 * environment, the first broker's port in `portVar`. Returns the teardown.
 */
export async function ownServers(o: {
  suite: string;
  portVar: string;
  kafka?: StartKafkaOptions;
}): Promise<() => Promise<void>> {
  const t0 = Date.now();
  delete process.env.KAFKA_BROKERS;
  let kafka: KafkaServer | undefined;
  let s3: S3Server | undefined;
  try {
    [kafka, s3] = await Promise.all([startKafka(o.kafka), startS3()]);
  } catch (e) {
    await Promise.all([kafka?.stop(), s3?.stop()]);
    throw e;
  }
  process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  process.env[o.portVar] = kafka.brokers[0]!.split(':').pop()!;
  process.env.S3_ENDPOINT = s3.endpoint;
  process.env.S3_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.S3_SECRET_ACCESS_KEY = s3.secretAccessKey;
  process.env.S3_REGION = s3.region;
  process.stderr.write(
    `${o.suite} servers ready in ${Date.now() - t0} ms: Kafka ${process.env.KAFKA_BROKERS}, S3 ${s3.endpoint}\n`,
  );
  return async () => {
    await Promise.all([kafka!.stop(), s3!.stop()]);
  };
}
