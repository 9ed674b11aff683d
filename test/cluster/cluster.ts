/**
 * The cluster suite's hold on the three-node cluster: per-node faults through
 * scripts/kafka-local.sh (by the cluster's port only: other runs share this machine), who leads
 * what, and whether every replica is back in sync.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { ROOT } from '../helpers.js';
import type { Row } from '../faults/harness.js';

const SCRIPT = join(ROOT, 'scripts', 'kafka-local.sh');

function script(args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      { cwd: ROOT, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, out, errOut) => {
        if (errOut) process.stderr.write(errOut);
        if (err) reject(new Error(`kafka-local.sh ${args.join(' ')} failed: ${err.message}`, { cause: err }));
        else resolve(out);
      },
    );
  });
}

export interface Cluster {
  brokers: string[];
  /** SIGKILL one node (its data stays). */
  kill(node: number): Promise<void>;
  /** SIGTERM one node and wait for its clean shutdown (it hands its leaderships over). */
  stop(node: number): Promise<void>;
  /** Starts a killed or stopped node again (same port, same data); resolves once it is up. */
  restart(node: number): Promise<void>;
  /** The node id of the active KRaft controller. */
  controller(): Promise<number>;
  /** The node id leading a partition of a topic. */
  leader(topic: string, partition: number): Promise<number>;
  /** Nodes whose process is running. */
  up(): Promise<number[]>;
  /** Topics (with their partitions) whose in-sync replicas are fewer than their replicas; empty: all in sync. */
  underReplicated(topics: string[]): Promise<string[]>;
  admin(): Promise<Admin>;
  close(): Promise<void>;
}

export async function cluster(): Promise<Cluster> {
  const port = process.env.CLUSTER_KAFKA_PORT!;
  const brokers = process.env.KAFKA_BROKERS!.split(',');
  const kafka = new Kafka({
    clientId: 'cluster-suite',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  let admin: Admin | undefined;
  const getAdmin = async () => {
    if (!admin) {
      admin = kafka.admin();
      await admin.connect();
    }
    return admin;
  };
  const P = ['--port', port];
  return {
    brokers,
    kill: async (n) => {
      await script(['kill', ...P, '--node', String(n)]);
    },
    stop: async (n) => {
      await script(['stop', ...P, '--keep-data', '--node', String(n)]);
    },
    restart: async (n) => {
      await script(['restart', ...P, '--node', String(n)]);
    },
    controller: async () => Number((await script(['controller', ...P])).trim()),
    leader: async (topic, partition) =>
      Number((await script(['leader', ...P, '--topic', topic, '--partition', String(partition)])).trim()),
    up: async () =>
      (await script(['nodes', ...P]))
        .split('\n')
        .filter((l) => l.endsWith(' up'))
        .map((l) => Number(/node=(\d+)/.exec(l)![1])),
    underReplicated: async (topics) => {
      const a = await getAdmin();
      const { topics: meta } = await a.fetchTopicMetadata({ topics });
      return meta.flatMap((t) =>
        t.partitions
          .filter((p) => p.isr.length < p.replicas.length || p.leader < 0)
          .map((p) => `${t.name}/${p.partitionId} isr ${p.isr.join(',')} of ${p.replicas.join(',')}`),
      );
    },
    admin: getAdmin,
    close: async () => {
      await admin?.disconnect().catch(() => {});
    },
  };
}

export interface ClusterRow extends Row {
  months: number;
  /** From the first upload to the last month published. */
  totalMs: number;
  /** Copies of an event (same id) read more than once: at-least-once redeliveries, harmless by design. */
  copies: number;
}

const HEAD = [
  'scenario',
  'months',
  'runs',
  'published',
  'failed',
  'lost',
  'dup ev/mail/sets',
  'copies',
  'recover',
  'total',
];

const secs = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

export function formatRow(r: ClusterRow): string {
  return [
    r.scenario,
    r.months,
    r.runs,
    r.published,
    r.failed,
    r.lost,
    `${r.dupEvents}/${r.dupMails}/${r.dupFiles}`,
    r.copies,
    secs(r.recoverMs),
    secs(r.totalMs),
  ].join(' | ');
}

/** The suite's table as Markdown, printed and written to .cache/cluster/table.md. */
export async function printTable(rows: ClusterRow[], elapsedMs: number, load: string): Promise<string> {
  const lines = [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${formatRow(r)} |${r.note ? ` ${r.note}` : ''}`),
  ];
  const text = `${lines.join('\n')}\n\n${rows.length} scenarios in ${(elapsedMs / 1000).toFixed(0)} s; load average at the end ${load}\n`;
  const dir = join(ROOT, '.cache', 'cluster');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'table.md'), text);
  process.stdout.write(`\nCluster suite\n\n${text}`);
  return text;
}
