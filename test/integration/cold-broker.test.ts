/**
 * A service started before its Kafka answers waits for it instead of exiting (issue 19): the ingest
 * process (its stage's consumer group and its watcher's own consumer) is started with a bootstrap
 * address whose gate drops every connection, as a broker still starting or a cluster still
 * electing its leaders turns clients away. It must keep running, say what it waits for, and become
 * ready once the gate opens. Needs `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { PATIENCE_MS, freePort, waitFor } from './stack.js';

const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const bucket = `bn-cold-${tag}`;

/** A TCP gate in front of the first broker: closed, it drops every connection; open, it forwards. */
async function gate(target: string): Promise<{ port: number; open(): void; close(): Promise<void> }> {
  const [host, port] = target.split(':') as [string, string];
  let open = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    open: () => {
      open = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('a service started before Kafka answers', () => {
  let g: Awaited<ReturnType<typeof gate>>;
  beforeAll(async () => {
    const s3 = new S3Client({
      endpoint: process.env.S3_ENDPOINT!,
      region: process.env.S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    g = await gate(process.env.KAFKA_BROKERS!.split(',')[0]!);
  });
  afterAll(async () => {
    await g?.close();
  });

  it('ingest waits, saying for what, and is ready once the brokers answer', async () => {
    const port = await freePort();
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(BN_|KAFKA_|S3_|VITEST|AWS_SDK_JS_NODE)/.test(k)),
    );
    const p = spawn(process.execPath, [join(ROOT, 'services', 'ingest', 'dist', 'main.js')], {
      env: {
        ...base,
        KAFKA_BROKERS: `127.0.0.1:${g.port}`,
        KAFKA_TOPIC_PREFIX: `bn-cold-${tag}`,
        KAFKA_REPLICATION_FACTOR: '1',
        S3_BUCKET: bucket,
        S3_ENDPOINT: process.env.S3_ENDPOINT!,
        S3_REGION: process.env.S3_REGION ?? 'us-east-1',
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID!,
        S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY!,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        BN_POLL_INTERVAL_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    const records = () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; waitingFor?: string; level: number });
    try {
      // kafkajs tries the connection for about 30 s itself; then the service says what it waits for.
      const waiting = await waitFor(
        'the service saying what it waits for',
        async () => {
          if (p.exitCode !== null) throw new Error(`ingest exited with ${p.exitCode}: ${out.slice(-1500)}`);
          return records().find((r) => r.waitingFor);
        },
        { timeoutMs: PATIENCE_MS, everyMs: 200 },
      );
      expect(waiting.msg).toMatch(
        new RegExp(
          `^waiting for the Kafka brokers 127\\.0\\.0\\.1:${g.port} \\(bus topics, consumer group bottleneck-ingest\\): could not connect to the Kafka brokers 127\\.0\\.0\\.1:${g.port}: .+ \\(trying again in \\d+\\.\\d s, for up to 600 s in all: BN_RETRY_BUDGET_MS\\)$`,
        ),
      );
      expect(p.exitCode, 'still running').toBeNull();
      g.open();
      await waitFor(
        'ingest ready',
        async () => {
          if (p.exitCode !== null) throw new Error(`ingest exited with ${p.exitCode}: ${out.slice(-1500)}`);
          return fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.status === 200,
            () => false,
          );
        },
        { timeoutMs: PATIENCE_MS, everyMs: 200 },
      );
      const msgs = records().map((r) => r.msg ?? '');
      expect(msgs).toContain('service started');
      expect(msgs.some((m) => /^the Kafka brokers .+: ready after \d+ attempts$/.test(m))).toBe(true);
    } finally {
      p.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
