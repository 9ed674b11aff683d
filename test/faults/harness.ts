/**
 * What the fault scenarios share: one stack of the six services (S3 through the relay), the
 * SendGrid stand-in, a tap that reads every event the stack produces, the months to upload, and
 * the table of outcomes each scenario adds a row to.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { layout, type PipelineEvent } from '@bottleneck/shared';
import { readCurrent, type CurrentPointer } from '@bottleneck/shared/published';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { allTopics } from '@bottleneck/shared/adapters/kafka/topics';
import { generateMonth } from '@bottleneck/cli/generate/index';
import { ROOT } from '../helpers.js';
import { kafkaControl, type KafkaControl } from '../servers.js';
import { STANDIN_API_KEY, start as startStandIn, type StandIn } from '../sendgrid-standin.js';
import {
  PATIENCE_MS,
  startStack,
  waitFor as waitForCondition,
  type Stack,
  type StackOptions,
} from '../integration/stack.js';
import { startS3Relay, type S3Relay } from './s3-relay.js';

export const QUICK = process.env.BN_FAULTS_QUICK === '1';

/** The stack's waitFor, tolerating failed polls (servers are killed and restarted here). */
export const waitFor = <T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = PATIENCE_MS,
  everyMs = 200,
): Promise<T> => waitForCondition(what, fn, { timeoutMs, everyMs, tolerateErrors: true });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Seen {
  topic: string;
  type: string;
  partition: number;
  offset: string;
  event: PipelineEvent | null;
  bytes: number;
}

/**
 * Reads every message of the stack's topics from the beginning, in its own group, into memory,
 * once per (partition, offset) whatever the restarts and rebalances.
 */
export class Tap {
  private readonly seen = new Map<string, Seen>();
  private consumer!: Consumer;
  constructor(
    private readonly brokers: string[],
    private readonly prefix: string,
  ) {}

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: 'faults-tap', brokers: this.brokers, logLevel: logLevel.NOTHING });
    this.consumer = kafka.consumer({
      groupId: `faults-tap-${Date.now()}`,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: allTopics(this.prefix), fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const k = `${topic}/${partition}/${message.offset}`;
        if (this.seen.has(k)) return;
        let event: PipelineEvent | null = null;
        try {
          event = JSON.parse(message.value?.toString('utf8') ?? '') as PipelineEvent;
        } catch {
          /* a poison message: counted, not parsed */
        }
        this.seen.set(k, {
          topic,
          type: topic.slice(this.prefix.length + 1),
          partition,
          offset: message.offset,
          event,
          bytes: message.value?.length ?? 0,
        });
      },
    });
  }

  /** Every message of one type (topic) so far. */
  all(type: string): Seen[] {
    return [...this.seen.values()].filter((s) => s.type === type);
  }

  /** Events of one type for a month. */
  events(type: string, month: string): PipelineEvent[] {
    return this.all(type)
      .map((s) => s.event)
      .filter((e): e is PipelineEvent => e?.partition === month);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => {});
  }
}

export interface Row {
  scenario: string;
  runs: number;
  published: number;
  failed: number;
  lost: number;
  dupEvents: number;
  dupMails: number;
  dupFiles: number;
  recoverMs: number | null;
  note?: string;
}

export interface World {
  stack: Stack;
  standin: StandIn;
  relay: S3Relay;
  /** The store as the services see it, but straight to the server (not through the relay). */
  store: S3Store;
  kafka: KafkaControl | null;
  tap: Tap;
  scratch: string;
  rows: Row[];
}

/** The stack of the suite: short settle, budgets and timeouts so that faults resolve in seconds. */
export async function startWorld(o: Partial<StackOptions> = {}): Promise<World> {
  const scratch = await mkdtemp(join(tmpdir(), 'bn-faults-'));
  const standin = await startStandIn({ apiKey: STANDIN_API_KEY });
  const relay = await startS3Relay(process.env.S3_ENDPOINT!);
  const stack = await startStack({
    sendgridUrl: standin.url,
    sendgridKey: STANDIN_API_KEY,
    pollIntervalMs: 1000,
    s3Endpoint: relay.endpoint,
    ...o,
    extraEnv: {
      // Files replaced 1 s apart settle into one run (F9).
      BN_SETTLE_MS: '2500',
      // Outages in the suite last seconds: a budget the short ones fit in (F3 sets a lower one).
      BN_RETRY_BUDGET_MS: '45000',
      ...o.extraEnv,
    },
  });
  const store = new S3Store({
    bucket: stack.bucket,
    endpoint: process.env.S3_ENDPOINT!,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
  });
  const tap = new Tap(process.env.KAFKA_BROKERS!.split(','), stack.prefix);
  await tap.start();
  const port = process.env.FAULTS_KAFKA_PORT;
  return { stack, standin, relay, store, kafka: port ? kafkaControl(port) : null, tap, scratch, rows: [] };
}

export async function stopWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  w.relay.clear();
  await w.tap.stop();
  await w.stack.stop();
  await w.relay.close();
  await w.standin.close();
}

const generated = new Map<string, string>();

/** A generated month's three files (cached per seed and scale), in a folder of the scratch space. */
export async function month(w: World, seed: number, scale = 0.25): Promise<string> {
  const k = `${seed}-${scale}`;
  const have = generated.get(k);
  if (have) return have;
  const dir = join(w.scratch, `gen-${k}`);
  await generateMonth({ outDir: dir, scale, seed });
  generated.set(k, dir);
  return dir;
}

export async function upload(
  w: World,
  partition: string,
  dir: string,
  names: readonly ('erp' | 'web' | 'liaison')[] = ['erp', 'web', 'liaison'],
  gapMs = 0,
): Promise<void> {
  for (const [i, n] of names.entries()) {
    if (i > 0 && gapMs) await sleep(gapMs);
    await w.store.putFile(layout.incoming(partition, n), join(dir, `${n}.xlsx`));
  }
}

/** The month's pointer once it names a run other than `notRun`. */
export function published(w: World, m: string, notRun?: string): Promise<CurrentPointer> {
  return waitFor(`extracts/${m}/_current.json${notRun ? ` past run ${notRun}` : ''}`, async () => {
    const c = await readCurrent(w.store, m);
    return c && c.runId !== notRun ? c : null;
  });
}

/** Reads the set the pointer names and checks every file against the manifest: a reader sees one whole set. */
export async function assertWhole(w: World, m: string): Promise<CurrentPointer> {
  const { createHash } = await import('node:crypto');
  const c = await readCurrent(w.store, m);
  if (!c) throw new Error(`nothing published for ${m}`);
  const manifest = JSON.parse((await w.store.get(c.manifestKey)).toString('utf8')) as {
    runId: string;
    files: { key: string; sha256: string }[];
  };
  if (manifest.runId !== c.runId)
    throw new Error(`${m}: the pointer names run ${c.runId}, its manifest run ${manifest.runId}`);
  for (const f of c.files) {
    if (!f.key.startsWith(`extracts/${m}/${c.runId}/`))
      throw new Error(`${m}: ${f.key} is outside run ${c.runId}'s set`);
    const sha = createHash('sha256')
      .update(await w.store.get(f.key))
      .digest('hex');
    if (sha !== f.sha256) throw new Error(`${m}: ${f.key} does not match the manifest (a mixed or partial set)`);
  }
  return c;
}

/** Dead-letter records of a month (.json only: S3Proxy lists an object being written under a temporary name). */
export async function deadLetters(w: World, m: string): Promise<{ key: string; record: Record<string, unknown> }[]> {
  const keys = (await w.store.list(`dead-letter/${m}/`)).filter((o) => o.key.endsWith('.json')).map((o) => o.key);
  return Promise.all(
    keys.map(async (key) => ({
      key,
      record: JSON.parse((await w.store.get(key)).toString('utf8')) as Record<string, unknown>,
    })),
  );
}

/** Mails the stand-in accepted about a month (subject or body names it). */
export function mailsAbout(w: World, m: string): { subject: string; text: string }[] {
  return w.standin
    .received()
    .map((p) => ({ subject: p.subject ?? '', text: (p.content ?? []).map((c) => c.value).join('\n') }))
    .filter((x) => x.subject.includes(m) || x.text.includes(m));
}

/**
 * The row of a scenario over its months, from what the bus, the store and the stand-in hold:
 * runs (distinct run ids triggered), published (distinct runs with a `published` event), failed
 * (distinct runs with a `failed` event); duplicated events (`published` events of one run with
 * more than one id), mails (more than one mail for one failed run), files (run sets under
 * extracts/ beyond the runs published); lost (months given as expected to publish that have no
 * set, and failed runs with no mail).
 */
export async function tally(
  w: World,
  scenario: string,
  months: string[],
  o: { expectPublished?: string[]; recoverMs?: number | null; note?: string } = {},
): Promise<Row> {
  await w.stack.waitIdle();
  await waitFor('the tap to catch up', async () => {
    const kafka = new Kafka({
      clientId: 'faults-ends',
      brokers: process.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const t of ['trigger', 'published', 'failed']) {
        const ends = await admin.fetchTopicOffsets(`${w.stack.prefix}.${t}`);
        const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
        if (w.tap.all(t).length < total) return false;
      }
      return true;
    } finally {
      await admin.disconnect();
    }
  });
  let runs = 0,
    pub = 0,
    failed = 0,
    lost = 0,
    dupEvents = 0,
    dupMails = 0,
    dupFiles = 0;
  for (const m of months) {
    const runIds = new Set(w.tap.events('trigger', m).map((e) => e.runId));
    runs += runIds.size;
    const pubs = w.tap.events('published', m);
    const pubRuns = new Set(pubs.map((e) => e.runId));
    pub += pubRuns.size;
    for (const r of pubRuns) dupEvents += new Set(pubs.filter((e) => e.runId === r).map((e) => e.id)).size - 1;
    const failedRuns = new Set(w.tap.events('failed', m).map((e) => e.runId));
    failed += failedRuns.size;
    const mails = mailsAbout(w, m);
    for (const r of failedRuns) {
      const n = mails.filter((x) => x.text.includes(r)).length;
      if (n > 1) dupMails += n - 1;
    }
    const sets = new Set(
      (await w.store.list(layout.extractsPrefix(m)))
        .map((x) => x.key.split('/')[2])
        .filter((s) => s && s !== '_current.json'),
    );
    dupFiles += Math.max(0, sets.size - pubRuns.size);
    if (o.expectPublished?.includes(m) && !(await readCurrent(w.store, m))) lost++;
  }
  const row: Row = {
    scenario,
    runs,
    published: pub,
    failed,
    lost,
    dupEvents,
    dupMails,
    dupFiles,
    recoverMs: o.recoverMs ?? null,
    ...(o.note ? { note: o.note } : {}),
  };
  w.rows.push(row);
  process.stderr.write(`faults: ${formatRow(row)}\n`);
  return row;
}

const HEAD = ['scenario', 'runs', 'published', 'failed', 'lost', 'dup ev/mail/files', 'recover'];

function formatRow(r: Row): string {
  return [
    r.scenario,
    r.runs,
    r.published,
    r.failed,
    r.lost,
    `${r.dupEvents}/${r.dupMails}/${r.dupFiles}`,
    r.recoverMs === null ? '-' : `${(r.recoverMs / 1000).toFixed(1)} s`,
  ].join(' | ');
}

/** The whole table, as Markdown; also written to .cache/faults/table.md. */
export async function printTable(rows: Row[], elapsedMs: number): Promise<string> {
  const lines = [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map((h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${formatRow(r)} |${r.note ? ` ${r.note}` : ''}`),
  ];
  const text = `${lines.join('\n')}\n\n${rows.length} scenarios in ${(elapsedMs / 1000).toFixed(0)} s${QUICK ? ' (quick subset)' : ''}\n`;
  const dir = join(ROOT, '.cache', 'faults');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, QUICK ? 'table-quick.md' : 'table.md'), text);
  process.stdout.write(`\nFault suite\n\n${text}`);
  return text;
}
