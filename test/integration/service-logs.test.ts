/**
 * A service's output is JSON lines and nothing else, each warning once: one service process
 * (merge) started twice on the same topics against the real Kafka and S3, at LOG_LEVEL=debug.
 * Node's plain-text warnings (the AWS SDK's NodeVersionSupportWarning on Node < 22, fastify's
 * deprecations) must come through the logger as JSON; kafkajs's answer for topics that already
 * exist must not surface as a warning at every start. Needs `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { PATIENCE_MS, freePort } from './stack.js';

interface LogLine {
  level: number;
  msg?: string;
  warning?: { name: string; code?: string; message: string };
  topics?: string[];
  [k: string]: unknown;
}

const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const bucket = `bn-logs-${tag}`;
const prefix = `bn-logs-${tag}`;

/** Starts merge, waits until it answers /readyz, stops it with SIGTERM; returns every line it wrote on stdout and stderr. */
async function runMergeOnce(): Promise<{ lines: string[]; code: number | null }> {
  const port = await freePort();
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(BN_|KAFKA_|S3_|VITEST|AWS_SDK_JS_NODE)/.test(k)),
  );
  const p = spawn(process.execPath, [join(ROOT, 'services', 'merge', 'dist', 'main.js')], {
    env: {
      ...base,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_REPLICATION_FACTOR: '1',
      S3_BUCKET: bucket,
      S3_ENDPOINT: process.env.S3_ENDPOINT!,
      S3_REGION: process.env.S3_REGION ?? 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID!,
      S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY!,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.on('data', (d) => {
    out += String(d);
  });
  p.stderr.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  const end = Date.now() + PATIENCE_MS;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (p.exitCode !== null) throw new Error(`merge exited with ${p.exitCode}: ${out.slice(-1500)}`);
    if (Date.now() > end) {
      p.kill('SIGKILL');
      throw new Error(`merge not ready after ${PATIENCE_MS} ms: ${out.slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  p.kill('SIGTERM');
  const code = await exited;
  const lines = out.split('\n');
  expect(lines.pop(), 'output ends with a newline').toBe('');
  return { lines, code };
}

function parseAll(lines: string[]): LogLine[] {
  return lines.map((line) => {
    try {
      const rec = JSON.parse(line) as LogLine;
      if (typeof rec.level !== 'number') throw new Error('no level');
      return rec;
    } catch {
      throw new Error(`a line of the service's output is not a JSON log record: ${line.slice(0, 400)}`);
    }
  });
}

describe('a service process writes JSON lines only', () => {
  const runs: { lines: string[]; code: number | null }[] = [];

  beforeAll(async () => {
    const s3 = new S3Client({
      endpoint: process.env.S3_ENDPOINT!,
      region: process.env.S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    // The first start creates the topics; the second finds them there, as every later start does.
    runs.push(await runMergeOnce());
    runs.push(await runMergeOnce());
  });

  it('stops cleanly and writes nothing but JSON log records on stdout and stderr', () => {
    for (const r of runs) {
      expect(r.code).toBe(0);
      const records = parseAll(r.lines);
      const tail = r.lines.slice(-4).join('\n');
      expect(
        records.map((x) => x.msg),
        tail,
      ).toContain('service started');
      // The last line is not lost at exit.
      expect(records.at(-1)?.msg, tail).toBe('stopped');
    }
  });

  it('logs each process warning once, as JSON, and raises no fastify deprecation', () => {
    for (const r of runs) {
      const warnings = parseAll(r.lines)
        .filter((x) => x.msg === 'process warning')
        .map((x) => x.warning!);
      const keys = warnings.map((w) => w.code ?? `${w.name}: ${w.message.slice(0, 40)}`);
      expect(keys).toEqual([...new Set(keys)]);
      expect(warnings.filter((w) => w.code?.startsWith('FSTDEP'))).toEqual([]);
      // The AWS SDK warns on Node < 22 at every start: here it must arrive as one JSON record.
      const aws = warnings.filter((w) => w.message.startsWith('NodeVersionSupportWarning'));
      expect(aws).toHaveLength(Number(process.versions.node.split('.')[0]) < 22 ? 1 : 0);
    }
  });

  it('warns once at start, without BN_EVENT_KEYS, that events are neither signed nor checked', () => {
    for (const r of runs)
      expect(
        parseAll(r.lines).filter((x) => x.level === 40 && /^BN_EVENT_KEYS is not set/.test(x.msg ?? '')),
      ).toHaveLength(1);
  });

  it('says at debug level, not as a warning, that the topics already exist', () => {
    const second = parseAll(runs[1]!.lines);
    const loud = second.filter(
      (x) => x.level >= 30 && /CreateTopics|Topic creation|already exist/i.test(`${x.msg} ${JSON.stringify(x)}`),
    );
    expect(loud).toEqual([]);
    const existing = second.find((x) => x.msg === 'bus topics already exist: left as they are');
    expect(existing?.level).toBe(20);
    expect(existing?.topics).toEqual(
      [
        'trigger',
        'file-arrived',
        'cleaned',
        'validated',
        'merged',
        'analysed',
        'published',
        'failed',
        'dead-letter',
      ].map((t) => `${prefix}.${t}`),
    );
    // The first start created them, and said so.
    expect(parseAll(runs[0]!.lines).find((x) => x.msg === 'bus topics created')?.topics).toHaveLength(9);
  });
});
