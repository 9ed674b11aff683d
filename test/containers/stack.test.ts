/**
 * `npm run test:containers`: docker-compose.yml started in podman containers (with
 * docker-compose.local.yml: images built here, S3Proxy for versitygw) by scripts/containers.sh,
 * then the pipeline end to end against the containers, from the host through the published ports:
 * a month dropped in the bucket is published once; a broken one gives one dead-letter record and
 * one mail to the SendGrid stand-in (on the host, reached from the containers as
 * host.containers.internal); a service whose process is killed mid-run is restarted by podman
 * (restart: unless-stopped) and the month still publishes once. The project's containers, network
 * and volumes are removed at the end, whatever happened.
 */
import { mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKeys, layout, type PipelineEvent } from '@bottleneck/shared';
import { readCurrent, readPublished } from '@bottleneck/shared/published';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { runEmbedded } from '@bottleneck/cli/embedded';
import { generateMonth } from '@bottleneck/cli/generate/index';
import { NO_REFERENCE, publishedPath, REFERENCE } from '../helpers.js';
import { start as startStandIn, type StandIn } from '../sendgrid-standin.js';
import { consumerGroups, freePort, pendingMessages, waitFor, type WaitOptions } from '../integration/stack.js';
import {
  containerEnv,
  containerName,
  containerState,
  logsOf,
  parseEnv,
  podman,
  readSecret,
  script,
  type ProjectEnv,
} from './project.js';

if (!REFERENCE) console.warn(`${NO_REFERENCE} (test/containers/stack.test.ts): a generated month stands in`);

const SERVICES = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter', 'console'] as const;
type Service = (typeof SERVICES)[number];

let env: ProjectEnv | undefined;
let project: string;
let standin: StandIn | undefined;
let store: S3Store;
let brokers: string[];
let prefix: string;
let s3EventsTopic: string;
let scratch: string;

const port = (s: Service): string => env![`${s.toUpperCase()}_HOST_PORT`]!;
const url = (s: Service, path: string): string => `http://127.0.0.1:${port(s)}${path}`;
/** waitFor, and when it times out, the last lines of these containers' logs in its error. */
async function waitLogged<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  services: string[],
  o: WaitOptions = {},
): Promise<T> {
  try {
    return await waitFor(what, fn, o);
  } catch (e) {
    const tails = await Promise.all(services.map(async (s) => `--- ${s}\n${await logsOf(project, s, 20)}`));
    throw new Error(`${(e as Error).message}\n${tails.join('\n')}`, { cause: e });
  }
}

/** Every event of one type on the bus so far, read from the start by a fresh consumer. */
async function eventsOf(type: string): Promise<PipelineEvent[]> {
  const kafka = new Kafka({ clientId: 'containers-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${prefix}.${type}`;
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  const out: PipelineEvent[] = [];
  if (total === 0) return out;
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `containers-reader-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen++;
        try {
          out.push(JSON.parse(message.value!.toString('utf8')) as PipelineEvent);
        } catch {
          /* not an event */
        }
        if (seen >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

/** Every service has committed every message it reads: what a run produced is all there. */
async function waitIdle(): Promise<void> {
  const groups = consumerGroups(prefix, s3EventsTopic);
  await waitFor('every consumer group caught up', async () => (await pendingMessages(brokers, groups)).length === 0, {
    tolerateErrors: true,
    everyMs: 500,
  });
}

async function upload(partition: string, dir: string): Promise<void> {
  for (const n of ['erp', 'web', 'liaison'] as const)
    await store.putFile(layout.incoming(partition, n), join(dir, `${n}.xlsx`));
}

const jsonFiles = async (prefix: string) => (await store.list(prefix)).filter((o) => o.key.endsWith('.json'));

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'bn-containers-'));
  // Images (the Debian base once per machine), the project's secrets and network, then the stack.
  // The alerter mails the stand-in at the network's gateway (host.containers.internal), which the
  // host has only once a container runs on that network: its port is chosen now, and it listens
  // there once the stack is up (no alert is due before the tests drop a month).
  env = parseEnv(await script(['prepare'])) as ProjectEnv;
  project = env.BOTTLENECK_PROJECT;
  const standinPort = await freePort();
  await script(['up', project], { BOTTLENECK_SENDGRID_URL: `http://host.containers.internal:${standinPort}` });
  standin = await startStandIn({
    apiKey: await readSecret(env, 'sendgrid_api_key'),
    host: env.BOTTLENECK_GATEWAY,
    port: standinPort,
  });

  const ingest = await containerEnv(project, 'ingest');
  prefix = ingest.KAFKA_TOPIC_PREFIX!;
  s3EventsTopic = ingest.S3_EVENTS_TOPIC!;
  brokers = [`localhost:${env.KAFKA_HOST_PORT}`];
  store = new S3Store({
    bucket: ingest.S3_BUCKET!,
    endpoint: `http://127.0.0.1:${env.S3_HOST_PORT}`,
    region: ingest.S3_REGION!,
    forcePathStyle: true,
    credentials: {
      accessKeyId: await readSecret(env, 's3_access_key_id'),
      secretAccessKey: await readSecret(env, 's3_secret_access_key'),
    },
  });
});

afterAll(async () => {
  try {
    if (env) await script(['down', env.BOTTLENECK_PROJECT]);
  } finally {
    await standin?.close();
    await rm(scratch, { recursive: true, force: true });
  }
});

describe('the compose stack in containers (podman)', () => {
  it('runs every container of docker-compose.yml from the local images, the setup jobs done, each service ready', async () => {
    const images = parseEnv(await readFile(join(env!.BOTTLENECK_SECRETS_DIR, '..', 'env'), 'utf8'));
    const imageOf = async (s: string) =>
      (await podman(['inspect', '--format', '{{.ImageName}}', containerName(project, s)])).trim();
    expect(await imageOf('kafka')).toBe(images.BOTTLENECK_KAFKA_IMAGE);
    expect(await imageOf('s3')).toBe(images.BOTTLENECK_S3_IMAGE);
    for (const s of [...SERVICES, 's3-bucket']) expect(await imageOf(s), s).toBe(images.BOTTLENECK_PIPELINE_IMAGE);
    for (const job of ['s3-events-topic', 's3-bucket'])
      expect(await containerState(project, job), job).toMatchObject({ status: 'exited', exitCode: 0 });
    for (const s of ['kafka', 's3', ...SERVICES]) expect((await containerState(project, s)).status, s).toBe('running');
    for (const s of SERVICES) {
      for (const path of ['/healthz', '/readyz']) expect((await fetch(url(s, path))).status, `${s} ${path}`).toBe(200);
    }
    // The console's API wants its token (a Docker secret), and has it.
    const token = await readSecret(env!, 'console_token');
    expect((await fetch(url('console', '/api/partitions'))).status).toBe(401);
    const partitions = await fetch(url('console', '/api/partitions'), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(partitions.status).toBe(200);
  });

  it('publishes a month dropped in the bucket, byte-identical to bottleneck run, once', async () => {
    let month = REFERENCE;
    if (!month) {
      month = join(scratch, 'generated');
      await generateMonth({ outDir: month, scale: 1, seed: 7 });
    }
    await upload('2026-11', month);
    const manifest = await waitLogged('extracts/2026-11/_current.json', () => readCurrent(store, '2026-11'), [
      'ingest',
      'clean',
      'publisher',
    ]);
    expect(manifest.files.map((f) => f.name).sort()).toEqual([
      'merged_with_revenue.csv',
      'ordinary_wines.csv',
      'premium_wines.csv',
      'revenue_per_product.xlsx',
    ]);
    const local = join(scratch, 'embedded');
    expect((await runEmbedded({ input: month, out: local, partition: '2026-11' })).status).toBe('succeeded');
    for (const f of ['merged_with_revenue.csv', 'premium_wines.csv', 'ordinary_wines.csv']) {
      const [a, b] = await Promise.all([
        readPublished(store, '2026-11', f),
        readFile(await publishedPath(local, '2026-11', f)),
      ]);
      expect(a.equals(b), f).toBe(true);
    }
    await waitFor('the published event', async () =>
      (await eventsOf('published')).some((e) => e.runId === manifest.runId),
    );
    await waitIdle();
    expect((await eventsOf('published')).filter((e) => e.runId === manifest.runId)).toHaveLength(1);
    // Every event of the run is signed with the project's key (secrets/event_keys).
    const keys = new EventKeys((await readSecret(env!, 'event_keys')).split(','));
    const published = (await eventsOf('published')).find((e) => e.runId === manifest.runId);
    expect(keys.verify(published)).toMatchObject({ runId: manifest.runId });
    // The console, reading the same bucket, shows the run published.
    const token = await readSecret(env!, 'console_token');
    const run = await waitFor('the run in the console', async () => {
      const r = await fetch(url('console', `/api/runs/${manifest.runId}`), {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = r.ok ? ((await r.json()) as { status: string }) : null;
      return body?.status === 'published' ? body : null;
    });
    expect(run.status).toBe('published');
  });

  it('dead-letters a broken month: one record, one mail to the SendGrid stand-in, nothing published', async () => {
    const month = join(scratch, 'bad');
    await generateMonth({ outDir: month, scale: 0.25, seed: 3 });
    const erp = join(month, 'erp.xlsx');
    await truncate(erp, Math.floor((await stat(erp)).size / 2));
    const before = standin!.received().length;
    await upload('2026-12', month);
    const records = await waitLogged(
      'dead-letter/2026-12/',
      async () => {
        const l = await jsonFiles('dead-letter/2026-12/');
        return l.length ? l : null;
      },
      ['ingest', 'alerter'],
    );
    await waitLogged('the alert mail', async () => standin!.received().length > before, ['alerter']);
    await waitIdle();
    expect((await jsonFiles('dead-letter/2026-12/')).map((o) => o.key)).toEqual(records.map((o) => o.key));
    const record = JSON.parse((await store.get(records[0]!.key)).toString('utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({
      partition: '2026-12',
      stage: 'ingest',
      code: 'BN_ERR_INPUT_CORRUPT',
      alert: { status: 'sent' },
    });
    const mails = standin!.received().slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('[BottleNeck pipeline] run failed at stage ingest for 2026-12');
    expect(await store.list('extracts/2026-12/')).toEqual([]);
  });

  it('restarts a service whose process is killed mid-run (restart policy), and the month publishes once', async () => {
    const month = join(scratch, 'kill');
    await generateMonth({ outDir: month, scale: 8, seed: 5 });
    await upload('2026-08', month);
    // /status lists what is in flight: kill clean while it reads this month's workbooks.
    const inFlight = await waitLogged(
      'clean handling 2026-08',
      async () => {
        const st = (await (await fetch(url('clean', '/status'))).json()) as {
          inFlight: { partition: string; consumed: string; runId: string }[];
        };
        return st.inFlight.find((f) => f.partition === '2026-08' && f.consumed === 'file-arrived');
      },
      ['ingest', 'clean'],
      { everyMs: 100 },
    );
    const before = await containerState(project, 'clean');
    expect(before.status).toBe('running');
    // SIGKILL to the container's process from the host, as the kernel's OOM killer would: not
    // `podman stop`/`kill`, which tell podman that a person stopped it.
    process.kill(before.pid, 'SIGKILL');
    const after = await waitLogged(
      'podman to restart clean',
      async () => {
        const s = await containerState(project, 'clean');
        return s.restarts > before.restarts && s.status === 'running' && s.pid !== before.pid ? s : null;
      },
      ['clean'],
    );
    expect(after.restarts).toBe(before.restarts + 1);
    // No check here that the run has no `cleaned` event yet: podman restarts clean within a second,
    // and the new process may already have handled the run again. What must hold is below: once.
    await waitLogged('extracts/2026-08/_current.json', () => store.head(layout.current('2026-08')), [
      'clean',
      'merge',
      'publisher',
    ]);
    await waitIdle();
    expect((await eventsOf('cleaned')).filter((e) => e.runId === inFlight.runId)).toHaveLength(1);
    expect((await eventsOf('published')).filter((e) => e.runId === inFlight.runId)).toHaveLength(1);
    expect((await fetch(url('clean', '/readyz'))).status).toBe(200);
  });
});
