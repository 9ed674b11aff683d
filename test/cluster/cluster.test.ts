/**
 * The cluster suite (issue 19): the services as processes on a three-node KRaft cluster (each node
 * controller and broker), topics with three replicas and min.insync.replicas 2, and one broker
 * fault per scenario: the partition leader SIGKILLed during a burst, the active controller
 * SIGKILLed, one broker down for five minutes, a rolling restart of all three. Each scenario checks
 * the fault suite's guarantees (every month published once, nothing lost, no duplicated event, set
 * or mail) and adds a row to the table printed at the end (also .cache/cluster/table.md).
 * BN_CLUSTER_OUTAGE_MS shortens the five-minute outage (for trying the suite out).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ConfigResourceTypes } from 'kafkajs';
import { EVENT_TYPES } from '@bottleneck/shared/events/index';
import { readCurrent } from '@bottleneck/shared/published';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { month, assertWhole, startWorld, stopWorld, tally, upload, waitFor, type World } from '../faults/harness.js';
import { cluster, formatRow, printTable, type Cluster, type ClusterRow } from './cluster.js';

const OUTAGE_MS = Number(process.env.BN_CLUSTER_OUTAGE_MS ?? 5 * 60_000);
/**
 * Safety net on a wait for months to publish: a failover with three JVMs and the services on a
 * 2-core machine at load 40 took minutes in the first runs (every month was published once in the
 * end). Not a speed target: the table records the times.
 */
const PATIENCE = 900_000;

/** Waits until every month named has a published set; returns the pointers. */
async function published(w: World, ...months: string[]): Promise<void> {
  let left = months;
  await waitFor(
    `${months.length} month(s) published`,
    async () => {
      const flags = await Promise.all(left.map(async (m) => ((await readCurrent(w.store, m)) ? null : m)));
      left = flags.filter((m): m is string => m !== null);
      return left.length === 0;
    },
    PATIENCE,
    500,
  );
}
/** The smallest months the generator makes: the suite is about the brokers, not the stages' speed. */
const SCALE = 0.15;
/**
 * L2's month slow to parse: generated at this scale (80: web.xlsx about 22 MB, 120,000 rows, against
 * 0.15 for the others), its parse must outlast the other four months' whole runs, so that they
 * can be seen overtaking it (BN_CLUSTER_SLOW_SCALE to try another size).
 */
const SLOW_SCALE = Number(process.env.BN_CLUSTER_SLOW_SCALE ?? 80);

/** Uploads the months together; ms until all are published. */
async function timed(files: string, ms: string[]): Promise<number> {
  const t = Date.now();
  await Promise.all(ms.map((m) => upload(w, m, files)));
  await published(w, ...ms);
  return Date.now() - t;
}

/** What clean's Excel workers hold now, per month (its /status). */
async function cleanWorkers(): Promise<{ size: number; busy: Record<string, number>; queued: Record<string, number> }> {
  const r = await w.stack.http('clean', '/status', 5_000);
  if (r.status !== 200) return { size: 0, busy: {}, queued: {} };
  return (
    JSON.parse(r.body) as { workers: { size: number; busy: Record<string, number>; queued: Record<string, number> } }
  ).workers;
}

let w: World;
let c: Cluster;

/** Times a service's consumer rejoined its group because its commits went to a coordinator that had moved. */
const rejoinsSoFar = () =>
  w.stack.outputs.reduce((n, o) => n + o.chunks.join('').split('rejoining the group to find it').length - 1, 0);
let rejoinsBefore = 0;
const rows: ClusterRow[] = [];
const t0 = Date.now();

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

/** Months some scenario has taken: the bucket is shared, so a month published before would count twice. */
const taken = new Set<string>();

/** n consecutive months from `first` (YYYY-MM), none taken before in this run of the suite. */
function monthsFrom(first: string, n: number): string[] {
  const [y, m] = first.split('-').map(Number) as [number, number];
  const months = Array.from({ length: n }, (_, i) => {
    const k = y * 12 + (m - 1) + i;
    return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`;
  });
  const again = months.filter((x) => taken.has(x));
  if (again.length) throw new Error(`months ${again.join(', ')} are another scenario's: give each scenario its own`);
  for (const x of months) taken.add(x);
  return months;
}

/** Every topic of the stack and the group offsets: what must be back in sync before the next fault. */
const allTopics = () => [...[...EVENT_TYPES, 'dead-letter'].map((t) => `${w.stack.prefix}.${t}`), '__consumer_offsets'];

async function inSync(): Promise<void> {
  await waitFor('every replica in sync', async () => (await c.underReplicated(allTopics())).length === 0, 300_000, 500);
}

/** Events of the months read more than once with the same id (at-least-once copies) and runs with more than one event id of a type. */
function duplicates(months: string[]): { copies: number; dupIds: string[] } {
  let copies = 0;
  const dupIds: string[] = [];
  for (const type of ['trigger', 'cleaned', 'validated', 'merged', 'analysed', 'published', 'failed']) {
    const evs = w.tap.all(type).flatMap((s) => (s.event && months.includes(s.event.partition) ? [s.event] : []));
    const ids = new Map<string, number>();
    for (const e of evs) ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
    for (const n of ids.values()) copies += n - 1;
    const perRun = new Map<string, Set<string>>();
    for (const e of evs) perRun.set(e.runId, (perRun.get(e.runId) ?? new Set()).add(e.id));
    for (const [run, s] of perRun) if (s.size > 1) dupIds.push(`${type} of run ${run}: ${s.size} ids`);
  }
  return { copies, dupIds };
}

async function row(
  scenario: string,
  months: string[],
  startedAt: number,
  recoverMs: number | null,
  note: string,
): Promise<ClusterRow> {
  const totalMs = Date.now() - startedAt;
  for (const m of months) await assertWhole(w, m);
  const rejoins = rejoinsSoFar() - rejoinsBefore;
  const r = await tally(w, scenario, months, {
    expectPublished: months,
    recoverMs,
    note: `${note}${rejoins ? `; ${rejoins} group rejoin(s) after commits refused by a moved coordinator` : ''}; load ${load()}`,
  });
  const { copies, dupIds } = duplicates(months);
  const out: ClusterRow = { ...r, months: months.length, totalMs, copies };
  rows.push(out);
  process.stderr.write(`cluster: ${formatRow(out)}\n`);
  expect(dupIds, 'runs with more than one event id of a type').toEqual([]);
  // S3Proxy's filesystem store writes a large object under a temporary name beside it
  // (incoming/<m>/web.xlsx-<uuid>) and renames it once written; ingest's watcher can list it in
  // between and rightly reports an upload it cannot place, with a mail. Real S3 lists no object
  // before its PUT completes, so those mails are the test server's, set apart; any other is not.
  const serverTemp = /upload not recognised: incoming\/\d{4}-\d{2}\/(erp|web|liaison)\.xlsx-[0-9a-f]{8}-[0-9a-f-]{27}$/;
  const mails = w.standin.received().filter((m) => !serverTemp.test(String(m.subject)));
  expect(mails, 'mails (no month fails here)').toHaveLength(0);
  expect(out).toMatchObject({
    runs: months.length,
    published: months.length,
    failed: 0,
    lost: 0,
    dupEvents: 0,
    dupMails: 0,
    dupFiles: 0,
  });
  return out;
}

/** The months' triggers' partitions, once each month has a trigger. */
async function triggerPartition(m: string): Promise<number> {
  const s = await waitFor(
    `the trigger of ${m}`,
    async () => w.tap.all('trigger').find((x) => x.event?.partition === m),
    undefined,
    100,
  );
  return s.partition;
}

beforeAll(async () => {
  c = await cluster();
  // A 30 s consumer session (the services' default; the fault suite's 6 s is for quick failovers):
  // three JVMs and the services on a loaded 2-core machine miss 6 s of heartbeats, and the groups
  // rebalanced over and over in the first runs.
  // BN_MAX_READ_MS stays at its default: it counts the reading thread's CPU time, so L2's large month
  // (slow, not hostile) is read whole however loaded the machine is.
  // The six services start beside three JVMs on a loaded 2-core machine: their /readyz is waited for
  // with the suite's patience (a rerun at load 45-58 went past the stack's default 180 s).
  w = await startWorld({
    readyTimeoutMs: PATIENCE,
    extraEnv: { KAFKA_REPLICATION_FACTOR: 'auto', KAFKA_SESSION_TIMEOUT_MS: '30000' },
  });
});

beforeEach(async () => {
  // Each scenario starts from a whole cluster: three nodes up (a failed scenario's node brought
  // back), every replica in sync.
  for (const n of [1, 2, 3]) if (!(await c.up()).includes(n)) await c.restart(n);
  await inSync();
  await w.stack.waitReady(PATIENCE);
  rejoinsBefore = rejoinsSoFar();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  // What the services said, for the person reading the failure.
  const dir = join(ROOT, '.cache', 'cluster');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${ctx.task.name.split(':')[0]}-services.log`);
  await writeFile(file, w.stack.outputs.map((o) => `=== ${o.service} pid ${o.pid}\n${o.chunks.join('')}`).join('\n'));
  const why = (ctx.task.result.errors ?? []).map((e) => e.message).join('; ');
  process.stderr.write(`cluster: ${ctx.task.name} failed: ${why}; the services' output is in ${file}\n`);
});

afterAll(async () => {
  if (rows.length) await printTable(rows, Date.now() - t0, load());
  await stopWorld(w);
  await c?.close();
});

describe('three-broker cluster', () => {
  it('the bus topics have three replicas, min.insync.replicas 2, and the producers are idempotent with acks=all', async () => {
    const admin = await c.admin();
    const topics = allTopics().filter((t) => !t.startsWith('__'));
    const { topics: meta } = await admin.fetchTopicMetadata({ topics });
    for (const t of meta)
      for (const p of t.partitions) expect(p.replicas, `${t.name}/${p.partitionId}`).toHaveLength(3);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({
        type: ConfigResourceTypes.TOPIC,
        name,
        configNames: ['min.insync.replicas'],
      })),
    });
    for (const r of configs.resources)
      expect(r.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue, r.resourceName).toBe(
        '2',
      );
  });

  it('L1: a month held in flight delays no other month, on its partition or another', async () => {
    const files = await month(w, 35, SCALE);
    const normal = monthsFrom('2044-01', 4);
    const normalMs = await timed(files, normal);
    // The hostile month: its erp.xlsx does not come back from the store until the others are through.
    const slow = '2044-06';
    const hold = w.relay.add({
      method: 'GET',
      key: new RegExp(`^incoming/${slow}/erp\\.xlsx`),
      action: { hold: 'before' },
    });
    const t = Date.now();
    try {
      await upload(w, slow, files);
      await waitFor('the hostile month read', async () => hold.hits() >= 1);
      const others = monthsFrom('2044-07', 4);
      const otherMs = await timed(files, others);
      const slowPart = await triggerPartition(slow);
      const sharing = (await Promise.all(others.map(triggerPartition))).filter((p) => p === slowPart).length;
      expect(await readCurrent(w.store, slow), 'the hostile month is still held').toBeNull();
      hold.release();
      await published(w, slow);
      const ratio = otherMs / normalMs;
      await row(
        'L1 one month held in flight',
        [...normal, slow, ...others],
        t,
        otherMs,
        `4 months: ${(normalMs / 1000).toFixed(1)} s alone, ${(otherMs / 1000).toFixed(1)} s beside the held month (x${ratio.toFixed(2)}); ${sharing} of them on its partition`,
      );
    } finally {
      hold.release();
    }
  });

  it('L2: a month slow to parse delays no other month (clean keeps a worker for the others)', async () => {
    const files = await month(w, 35, SCALE);
    const big = await month(w, 36, SLOW_SCALE);
    const normal = monthsFrom('2045-01', 4);
    const normalMs = await timed(files, normal);
    const slow = '2045-06';
    const t = Date.now();
    await upload(w, slow, big);
    // Its largest workbook is being parsed on one of clean's Excel workers.
    await waitFor(
      'the slow month parsing on a clean worker',
      async () => ((await cleanWorkers()).busy[slow] ?? 0) >= 1,
      PATIENCE,
      100,
    );
    const others = monthsFrom('2045-07', 4);
    const otherMs = await timed(files, others);
    // The four overtook it: all published before the slow month was even cleaned (with one worker
    // shared by all months, their workbooks waited for its parse to end).
    const overtaken = w.tap.events('cleaned', slow).length === 0;
    const workers = await cleanWorkers();
    await published(w, slow);
    const ratio = otherMs / normalMs;
    await row(
      'L2 one month slow to parse',
      [...normal, slow, ...others],
      t,
      otherMs,
      `4 months: ${(normalMs / 1000).toFixed(1)} s alone, ${(otherMs / 1000).toFixed(1)} s beside a month of scale ${SLOW_SCALE} being parsed (x${ratio.toFixed(2)}; clean's ${workers.size} workers; ${overtaken ? 'all four published before it was cleaned' : 'it was cleaned first'}); the slow month published ${((Date.now() - t) / 1000).toFixed(0)} s after its upload`,
    );
    expect(overtaken, 'the four months published before the slow month was cleaned').toBe(true);
  });

  it('C1: the partition leader SIGKILLed during a 20-month burst', async () => {
    // 2038-01 to 2039-08: no other scenario's months (C2 has 2041; from 2040-01 the burst ran into
    // them, and C2 counted two runs of each of its months).
    const months = monthsFrom('2038-01', 20);
    const files = await month(w, 31, SCALE);
    const t = Date.now();
    await Promise.all(months.map((m) => upload(w, m, files)));
    // The burst is under way: a few months cleaned, the last ones still to come.
    await waitFor(
      'the burst under way',
      async () => w.tap.all('cleaned').filter((x) => months.includes(x.event?.partition ?? '')).length >= 3,
      undefined,
      50,
    );
    const last = months.at(-1)!;
    const part = await triggerPartition(last);
    const topic = `${w.stack.prefix}.cleaned`;
    const victim = await c.leader(topic, part);
    const publishedBefore = months.filter((m) => w.tap.events('published', m).length > 0).length;
    await c.kill(victim);
    const killed = Date.now();
    const moved = await waitFor(`a new leader of ${topic}/${part}`, async () => {
      const l = await c.leader(topic, part).catch(() => -1);
      return l > 0 && l !== victim ? l : null;
    });
    await published(w, ...months);
    const recoverMs = Date.now() - killed;
    await c.restart(victim);
    await row(
      'C1 partition leader SIGKILL in a 20-month burst',
      months,
      t,
      recoverMs,
      `node ${victim} led ${topic.split('.').pop()}/${part}, then node ${moved}; ${publishedBefore} published before the kill`,
    );
  });

  it('C2: the active controller SIGKILLed', async () => {
    const months = monthsFrom('2041-01', 6);
    const files = await month(w, 32, SCALE);
    const t = Date.now();
    await Promise.all(months.map((m) => upload(w, m, files)));
    await waitFor(
      'the months under way',
      async () => w.tap.all('cleaned').some((x) => months.includes(x.event?.partition ?? '')),
      undefined,
      50,
    );
    const victim = await c.controller();
    await c.kill(victim);
    const killed = Date.now();
    const next = await waitFor('a new active controller', async () => {
      const id = await c.controller().catch(() => -1);
      return id > 0 && id !== victim ? id : null;
    });
    const electedMs = Date.now() - killed;
    await published(w, ...months);
    const recoverMs = Date.now() - killed;
    await c.restart(victim);
    await row(
      'C2 active controller SIGKILL',
      months,
      t,
      recoverMs,
      `controller ${victim} killed, node ${next} elected in ${(electedMs / 1000).toFixed(1)} s`,
    );
  });

  it(`C3: one broker down for ${OUTAGE_MS / 60_000} minutes and back`, async () => {
    const during = monthsFrom('2042-01', 6);
    const after = monthsFrom('2042-07', 3);
    const files = await month(w, 33, SCALE);
    const t = Date.now();
    // Not the controller: that is C2. The broker leading partition 0 of the triggers.
    const ctl = await c.controller();
    const victim =
      (await c.leader(`${w.stack.prefix}.trigger`, 0)) === ctl
        ? (ctl % 3) + 1
        : await c.leader(`${w.stack.prefix}.trigger`, 0);
    await c.kill(victim);
    const down = Date.now();
    // Months flow on two brokers: min.insync.replicas 2 still acknowledges every write.
    await Promise.all(during.map((m) => upload(w, m, files)));
    await published(w, ...during);
    const duringMs = Date.now() - down;
    const left = OUTAGE_MS - (Date.now() - down);
    if (left > 0) await new Promise((r) => setTimeout(r, left)); // the outage itself
    await c.restart(victim);
    const back = Date.now();
    await inSync();
    const syncMs = Date.now() - back;
    await Promise.all(after.map((m) => upload(w, m, files)));
    await published(w, ...after);
    await row(
      `C3 one broker down ${(OUTAGE_MS / 60_000).toFixed(0)} min`,
      [...during, ...after],
      t,
      syncMs,
      `node ${victim} down ${((back - down) / 1000).toFixed(0)} s; ${during.length} months published on two brokers in ${(duringMs / 1000).toFixed(0)} s; recover = back in sync`,
    );
  });

  it('C4: a rolling restart of all three while months flow', async () => {
    // 2046-01 to 2047-12 at most: no other scenario's months (from 2043-01 a long restart reached L1's 2044).
    const months = monthsFrom('2046-01', 24);
    const files = await month(w, 34, SCALE);
    const t = Date.now();
    let restarting = true;
    const uploaded: string[] = [];
    // The flow: a month is dropped each time the previous one has been cleaned, until the restart is over.
    const flow = (async () => {
      for (const m of months) {
        if (!restarting && uploaded.length >= 3) break;
        await upload(w, m, files);
        uploaded.push(m);
        await waitFor(`${m} cleaned`, async () => w.tap.events('cleaned', m).length > 0, PATIENCE, 100);
      }
    })();
    await waitFor('months flowing', async () => uploaded.length >= 2, undefined, 100);
    const order: number[] = [];
    // The controller last, as operators do: one controller election, not three.
    const ctl = await c.controller();
    for (const n of [1, 2, 3].filter((x) => x !== ctl).concat(ctl)) {
      await c.stop(n);
      await c.restart(n);
      await inSync();
      order.push(n);
    }
    const rolledMs = Date.now() - t;
    restarting = false;
    await flow;
    await published(w, ...uploaded);
    await row(
      'C4 rolling restart of the three',
      uploaded,
      t,
      null,
      `nodes ${order.join(', ')} restarted one by one (each back in sync before the next) in ${(rolledMs / 1000).toFixed(0)} s`,
    );
  });
});
