#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mark } from '@bottleneck/shared/profile';

// Node's own start and this module's static imports, until here.
mark('node start and the CLI\'s static imports', 0);

/** Exit codes: 0 success, 1 the run failed (input or check), 2 usage error. */
export const EXIT = { OK: 0, RUN_FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;

const HELP = `bottleneck: BottleNeck's monthly pipeline as a Dagster-style asset graph

Usage:
  bottleneck run --input DIR --out DIR [--partition YYYY-MM] [--expect FILE] [--json] [--verbose]
      Reads DIR/erp.xlsx, DIR/web.xlsx, DIR/liaison.xlsx, runs the graph, writes
      OUT/extracts/<partition>/ (or OUT/dead-letter/ and OUT/outbox/ when the run fails).
  bottleneck demo [--out DIR] [--scale K] [--seed N] [--json]
      Generates a sample month (as dirty as the real exports) and runs it.
  bottleneck generate --out DIR [--scale K] [--seed N]
      Writes a generated month: K times the reference size.
  bottleneck graph
      Prints the asset graph as Mermaid.
  bottleneck trigger --partition YYYY-MM
      Asks the running services (Kafka, from KAFKA_BROKERS and KAFKA_TOPIC_PREFIX) to run a month.

Exit codes: 0 success, 1 the run failed (see the dead-letter record), 2 usage error.
`;

class UsageError extends Error {}

function usage(msg: string): never {
  throw new UsageError(msg);
}

function parse(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } }, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    usage((e as Error).message);
  }
}

function partitionOf(v: unknown, fallback: () => string): string {
  if (v === undefined) return fallback();
  if (typeof v !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(v)) usage(`--partition must be YYYY-MM (got ${JSON.stringify(v)})`);
  return v;
}

function intOf(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a whole number >= 1 (got ${JSON.stringify(v)})`);
  return n;
}

async function readExpectations(path: string) {
  const { ExpectationsSchema } = await import('@bottleneck/shared/events/envelope');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    usage(`--expect ${path}: ${(e as Error).message}`);
  }
  const r = ExpectationsSchema.safeParse(raw);
  if (!r.success) usage(`--expect ${path}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function runCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { input: { type: 'string' }, out: { type: 'string' }, partition: { type: 'string' }, expect: { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean' } });
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  if (typeof v.input !== 'string') usage('run needs --input DIR (the folder with erp.xlsx, web.xlsx, liaison.xlsx)');
  if (typeof v.out !== 'string') usage('run needs --out DIR (where extracts/, dead-letter/ and outbox/ go)');
  const { currentPartition } = await import('./embedded.js');
  const partition = partitionOf(v.partition, currentPartition);
  const expectations = typeof v.expect === 'string' ? await readExpectations(v.expect) : undefined;
  return execute({ input: resolve(v.input), out: resolve(v.out), partition, ...(expectations ? { expectations } : {}) }, Boolean(v.json), Boolean(v.verbose));
}

async function execute(o: { input: string; out: string; partition: string; expectations?: import('@bottleneck/shared').Expectations }, json: boolean, verbose: boolean): Promise<number> {
  const [{ runEmbedded }, out, { stderrLogger }, { limitsFromEnv }] = await Promise.all([import('./embedded.js'), import('./output.js'), import('./log.js'), import('@bottleneck/shared/config')]);
  const { workersFromEnv } = await import('@bottleneck/shared/config');
  let limits, workers;
  try {
    limits = limitsFromEnv(process.env);
    workers = workersFromEnv(process.env);
  } catch (e) {
    usage((e as Error).message);
  }
  const write = (s: string) => process.stdout.write(s);
  if (!json) write(`bottleneck run: partition ${o.partition}, input ${o.input}\n`);
  const summary = await runEmbedded({
    ...o,
    limits,
    workers,
    // The summary shows a failure to a person; the JSON log lines are for --verbose and machines.
    log: stderrLogger(verbose ? 'info' : json ? 'error' : 'silent'),
    ...(json ? {} : { progress: out.humanProgress(write) }),
  });
  write(json ? out.jsonSummary(summary) : out.humanSummary(summary));
  return summary.status === 'succeeded' ? EXIT.OK : EXIT.RUN_FAILED;
}

async function generateCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { out: { type: 'string' }, scale: { type: 'string' }, seed: { type: 'string' } });
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  if (typeof v.out !== 'string') usage('generate needs --out DIR');
  const { generateMonth } = await import('./generate/index.js');
  const t0 = performance.now();
  const g = await generateMonth({ outDir: resolve(v.out), scale: intOf('scale', v.scale, 1), seed: intOf('seed', v.seed, 1) });
  process.stdout.write(`generated ${g.erpRows} ERP rows, ${g.webRows} web rows, ${g.liaisonRows} liaison rows (${g.products} products) in ${Math.round(performance.now() - t0)} ms:\n  ${g.files.erp}\n  ${g.files.web}\n  ${g.files.liaison}\n`);
  return EXIT.OK;
}

async function demoCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { out: { type: 'string' }, scale: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  const out = resolve(typeof v.out === 'string' ? v.out : 'demo-out');
  const input = resolve(out, 'input');
  const { generateMonth } = await import('./generate/index.js');
  await generateMonth({ outDir: input, scale: intOf('scale', v.scale, 1), seed: intOf('seed', v.seed, 1) });
  if (!v.json) process.stdout.write(`demo: generated a sample month in ${input}\n`);
  const { currentPartition } = await import('./embedded.js');
  return execute({ input, out, partition: currentPartition() }, Boolean(v.json), false);
}

async function graphCommand(argv: string[]): Promise<number> {
  parse(argv, {});
  const { toMermaid } = await import('@bottleneck/shared/assets/graph');
  process.stdout.write(toMermaid());
  return EXIT.OK;
}

async function triggerCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { partition: { type: 'string' } });
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  if (typeof v.partition !== 'string') usage('trigger needs --partition YYYY-MM');
  const partition = partitionOf(v.partition, () => '');
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  if (!brokers.length) usage('trigger needs KAFKA_BROKERS (comma-separated host:port) in the environment');
  const [{ KafkaBus }, { makeEvent, newRunId }] = await Promise.all([import('@bottleneck/shared/adapters/kafka-bus'), import('@bottleneck/shared/events/index')]);
  const bus = new KafkaBus({ brokers, clientId: 'bottleneck-cli', topicPrefix: process.env.KAFKA_TOPIC_PREFIX || 'bottleneck' });
  try {
    const runId = newRunId(partition);
    await bus.publish(makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'manual' } }));
    process.stdout.write(`trigger sent: partition ${partition}, run ${runId}\n`);
    return EXIT.OK;
  } finally {
    await bus.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run': return await runCommand(rest);
      case 'demo': return await demoCommand(rest);
      case 'generate': return await generateCommand(rest);
      case 'graph': return await graphCommand(rest);
      case 'trigger': return await triggerCommand(rest);
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(HELP);
        return cmd === undefined ? EXIT.USAGE : EXIT.OK;
      default: usage(`unknown command ${JSON.stringify(cmd)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bottleneck: ${e.message}\nRun "bottleneck help" for usage.\n`);
      return EXIT.USAGE;
    }
    throw e;
  }
}

process.on('SIGINT', () => process.exit(EXIT.INTERRUPTED));
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`bottleneck: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
