#!/usr/bin/env node
// First: V8's tiering and DuckDB's allocator for a short-lived process (tuning.ts), then `run`'s prefetch worker,
// which starts as early.js is evaluated, before the modules below are.
import './tuning.js';
import { early, prefetchInput, RUN_OPTIONS } from './early.js';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@bottleneck/shared/errors/index';
import { bundleIsCurrent } from '@bottleneck/shared/bundle';
import { mark, timed } from '@bottleneck/shared/profile';

// Node's own start and this module's static imports, until here.
mark("node start and the CLI's static imports", 0);

/**
 * Exit codes: 0 success, 1 the run failed (input or check), 2 usage or configuration error,
 * 69 a service the command needs could not be reached (Kafka, for trigger), 70 internal error,
 * 130 interrupted.
 */
export const EXIT = { OK: 0, RUN_FAILED: 1, USAGE: 2, UNAVAILABLE: 69, INTERNAL: 70, INTERRUPTED: 130 } as const;

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
  bottleneck ui --out DIR [--port N] [--host H] [--no-watch] [--settle-ms MS]
      Serves the operator console (page and JSON API) over the folder store OUT; re-runs and
      re-executions run in this process. Watches OUT/incoming/: a waiting or failed month whose
      files change runs by itself once they have settled (--no-watch: not). Binds 127.0.0.1:8090
      unless told otherwise; a --host other than loopback needs BN_CONSOLE_TOKEN; when it is set,
      the page and every API call need it. Answers only to localhost, 127.0.0.1, --host and
      BN_CONSOLE_HOSTS (Host and Origin checked).
  bottleneck runs --out DIR [--partition YYYY-MM] [--status S] [--json]
      Lists the runs recorded in OUT (newest first), with their trigger, stages and error.
  bottleneck backfill --from YYYY-MM --to YYYY-MM [--out DIR] [--json]
      One run per month: with --out, here over the folder store; without, through the services (Kafka).
  bottleneck reexecute RUN_ID [--out DIR] [--json]
      Re-executes a failed run from its failed stage, reusing the run's upstream assets: with
      --out, here; without, through the services (Kafka and the bucket, S3_* settings).
  bottleneck logs RUN_ID [--out DIR] [--stage S] [--level L] [--q TEXT] [--json]
      Prints what each stage logged for the run (kept with its run record, secrets redacted, at
      most 200 records per stage): --stage one stage, --level that level or above (debug, info,
      warn, error), --q records containing TEXT. Without --out, from the bucket (S3_* settings).

Exit codes: 0 success, 1 the run failed (see the dead-letter record), 2 usage or configuration
error, 69 Kafka could not be reached (trigger), 70 internal error, 130 interrupted.
`;

class UsageError extends Error {}

function usage(msg: string): never {
  throw new UsageError(msg);
}

function parse(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>) {
  return parseWith(argv, options, false).values;
}

function parseWith(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>, allowPositionals: boolean) {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals,
      strict: true,
    });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    usage((e as Error).message);
  }
}

function partitionOf(v: unknown, fallback: () => string): string {
  if (v === undefined) return fallback();
  if (typeof v !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(v))
    usage(`--partition must be YYYY-MM (got ${JSON.stringify(v)})`);
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
  if (!r.success)
    usage(`--expect ${path}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function runCommand(argv: string[]): Promise<number> {
  const v = parse(argv, RUN_OPTIONS);
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  if (typeof v.input !== 'string') usage('run needs --input DIR (the folder with erp.xlsx, web.xlsx, liaison.xlsx)');
  if (typeof v.out !== 'string') usage('run needs --out DIR (where extracts/, dead-letter/ and outbox/ go)');
  // The workbooks are read on a worker (since early.ts, or from now on), while this thread imports
  // the graph and starts DuckDB.
  const prefetch = await takePrefetch(resolve(v.input));
  // And DuckDB's instance starts (on its own threads) while this thread imports the graph.
  await startDuckdb(resolve(v.input));
  try {
    const { currentPartition } = await timed('cli: import the asset graph (embedded.js)', () => importGraph());
    const partition = partitionOf(v.partition, currentPartition);
    const expectations = typeof v.expect === 'string' ? await readExpectations(v.expect) : undefined;
    await checkInputAndOut(v.input, v.out);
    return await execute(
      { input: resolve(v.input), out: resolve(v.out), partition, ...(expectations ? { expectations } : {}) },
      Boolean(v.json),
      Boolean(v.verbose),
      prefetch,
    );
  } finally {
    await prefetch?.close();
  }
}

/**
 * The prefetch worker reading the input's workbooks (stage/prefetch.ts): the one early.ts started,
 * if it reads `input`; otherwise one started now; undefined when none can start. Only a speed-up:
 * ingest uses its rows only if they are of the very bytes it checked (not at all with
 * BN_EXCEL_WORKERS, whose workers parse in clean).
 */
async function takePrefetch(input: string) {
  if (early?.input === input) {
    const p = await early.prefetch.catch(() => undefined);
    if (p) return p;
  }
  return prefetchInput(input).catch(() => undefined);
}

let graph: Promise<typeof import('./embedded.js')> | undefined;

/**
 * The asset graph of the in-process run (embedded.js): as the build bundled it
 * (embedded.bundle.js, scripts/bundle-run.mjs: one module instead of some 50, about half the CPU
 * time to import) when that bundle is there and every module in it is the file it was built from
 * (size and mtime, as the build listed them in embedded.bundle.json: after a `tsc -b` alone the
 * modules load as they are); otherwise embedded.js and its modules. One or the other in a process,
 * never both (`run`, `demo`).
 */
function importGraph(): Promise<typeof import('./embedded.js')> {
  graph ??= bundleIsCurrent(new URL('./embedded.bundle.json', import.meta.url), new URL('../../', import.meta.url))
    ? (import(BUNDLE) as Promise<typeof import('./embedded.js')>)
    : import('./embedded.js');
  return graph;
}

const BUNDLE = './embedded.bundle.js';

/**
 * Starts DuckDB's instance with the in-process run's settings (`startDuckdbEarly`): the run's
 * context takes it. Only a speed-up: when it fails, the run starts DuckDB itself.
 */
async function startDuckdb(input: string): Promise<void> {
  try {
    const [{ startDuckdbEarly, duckdbOptions }, { embeddedDuckdb, inputBytes }, { SOURCES }] = await Promise.all([
      import('@bottleneck/shared/duck/index'),
      import('./duckdb.js'),
      import('@bottleneck/shared/sources'),
    ]);
    const files = (['liaison', 'erp', 'web'] as const).map((n) => SOURCES[n].file);
    void startDuckdbEarly(duckdbOptions(embeddedDuckdb({ inputBytes: inputBytes(input, files) })));
  } catch {
    // The run's context creates its own instance.
  }
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (OUT may not exist yet). */
async function realish(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(await realish(parent), relative(parent, abs));
  }
}

const inside = (child: string, parent: string) =>
  child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

/**
 * Usage errors found before anything runs: the input folder and its three files must exist
 * (every missing one named, at the path the user gave), and the input must not lie inside OUT,
 * where the run writes (and would replace or delete) files.
 */
async function checkInputAndOut(input: string, out: string): Promise<void> {
  const [{ INPUT_NAMES }, { SOURCES }] = await Promise.all([
    import('@bottleneck/shared/keys'),
    import('@bottleneck/shared/sources'),
  ]);
  const isDir = await stat(input).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir)
    usage(`--input ${input}: no such folder (it should hold ${INPUT_NAMES.map((n) => SOURCES[n].file).join(', ')})`);
  const missing: string[] = [];
  for (const n of INPUT_NAMES) {
    const f = join(input, SOURCES[n].file);
    if (
      !(await stat(f).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      missing.push(f);
  }
  if (missing.length)
    usage(
      `--input ${input}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing; the month needs erp.xlsx, web.xlsx and liaison.xlsx`,
    );
  const [realIn, realOut] = await Promise.all([realish(input), realish(out)]);
  if (inside(realIn, realOut))
    usage(
      `--input ${input} is inside --out ${out}: the run writes there and could replace or delete your files; give an input folder outside ${out}`,
    );
}

async function execute(
  o: { input: string; out: string; partition: string; expectations?: import('@bottleneck/shared').Expectations },
  json: boolean,
  verbose: boolean,
  prefetch?: import('@bottleneck/shared/stage/prefetch').Prefetch,
): Promise<number> {
  const [{ runEmbedded, limitsOf, checkSettingsOf }, out, { stderrLogger }] = await Promise.all([
    importGraph(),
    import('./output.js'),
    import('./log.js'),
  ]);
  const config = await cliConfig();
  const limits = limitsOf(config);
  const workers = config.BN_EXCEL_WORKERS;
  const write = (s: string) => process.stdout.write(s);
  if (!json) write(`bottleneck run: partition ${o.partition}, input ${o.input}\n`);
  const consoleUrl = config.BN_CONSOLE_URL;
  const summary = await runEmbedded({
    ...o,
    limits,
    workers,
    ...(consoleUrl ? { consoleUrl } : {}),
    ...(prefetch ? { prefetch } : {}),
    settings: checkSettingsOf(config),
    // The summary shows a failure to a person; the JSON log lines are for --verbose and machines.
    log: stderrLogger(verbose ? 'info' : json ? 'error' : 'silent'),
    ...(json ? {} : { progress: out.humanProgress(write) }),
  });
  write(json ? out.jsonSummary(summary, consoleUrl) : out.humanSummary(summary, consoleUrl));
  return summary.status === 'succeeded' ? EXIT.OK : EXIT.RUN_FAILED;
}

/** The command line's settings from the environment (the same table and rules as the services'); a bad one is a usage error. */
async function cliConfig() {
  const { loadConfig } = await import('@bottleneck/shared/service/config');
  try {
    return loadConfig('cli', process.env);
  } catch (e) {
    usage(errorMessage(e).replace(/^configuration: /, ''));
  }
}

async function generateCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { out: { type: 'string' }, scale: { type: 'string' }, seed: { type: 'string' } });
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  if (typeof v.out !== 'string') usage('generate needs --out DIR');
  const { generateMonth } = await import('./generate/index.js');
  const t0 = performance.now();
  const g = await generateMonth({
    outDir: resolve(v.out),
    scale: intOf('scale', v.scale, 1),
    seed: intOf('seed', v.seed, 1),
  });
  process.stdout.write(
    `generated ${g.erpRows} ERP rows, ${g.webRows} web rows, ${g.liaisonRows} liaison rows (${g.products} products) in ${Math.round(performance.now() - t0)} ms:\n  ${g.files.erp}\n  ${g.files.web}\n  ${g.files.liaison}\n`,
  );
  return EXIT.OK;
}

async function demoCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    out: { type: 'string' },
    scale: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) return (process.stdout.write(HELP), EXIT.OK);
  const out = resolve(typeof v.out === 'string' ? v.out : 'demo-out');
  const input = resolve(out, 'input');
  const { generateMonth } = await import('./generate/index.js');
  await generateMonth({ outDir: input, scale: intOf('scale', v.scale, 1), seed: intOf('seed', v.seed, 1) });
  if (!v.json) process.stdout.write(`demo: generated a sample month in ${input}\n`);
  const { currentPartition } = await importGraph();
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
  const config = await cliConfig();
  const brokers = config.KAFKA_BROKERS;
  if (!brokers?.length) usage('trigger needs KAFKA_BROKERS (comma-separated host:port) in the environment');
  const [{ kafkaBus, kafkaSettings }, { makeEvent, newRunId }] = await Promise.all([
    import('@bottleneck/shared/wiring'),
    import('@bottleneck/shared/events/index'),
  ]);
  let bus;
  try {
    // TLS and SASL as the services have them; a person is waiting: a few quick tries, not the services' half-minute.
    bus = await kafkaBus({ ...kafkaSettings({ ...config, KAFKA_BROKERS: brokers }), quick: true });
  } catch (e) {
    usage(`KAFKA_BROKERS: ${errorMessage(e)}`);
  }
  try {
    const runId = newRunId(partition);
    await bus.publish(
      makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'manual' } }),
    );
    process.stdout.write(`trigger sent: partition ${partition}, run ${runId}\n`);
    return EXIT.OK;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'BN_ERR_BUS_CONNECT' && code !== 'BN_ERR_BUS_PUBLISH' && code !== 'BN_ERR_BUS_TOPICS') throw e;
    process.stderr.write(
      `bottleneck: could not reach Kafka at ${brokers.join(',')} (KAFKA_BROKERS): start the services (docker compose up) or set KAFKA_BROKERS to a broker this machine can reach, e.g. localhost:9094 for the compose stack.\n`,
    );
    return EXIT.UNAVAILABLE;
  } finally {
    await bus.close().catch(() => undefined);
  }
}

/** What the console's commands (console-commands.ts) share with the others. */
export interface CliTools {
  parse: typeof parseWith;
  usage: (msg: string) => never;
  partitionOf: (v: unknown) => string;
  intOf: typeof intOf;
  config: typeof cliConfig;
  help: string;
  EXIT: typeof EXIT;
}

const tools: CliTools = {
  parse: parseWith,
  usage,
  partitionOf: (v) => partitionOf(v, () => usage('a month is needed (YYYY-MM)')),
  intOf,
  config: cliConfig,
  help: HELP,
  EXIT,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run':
        try {
          return await runCommand(rest);
        } finally {
          // The early worker, whether the run took it (closed already) or not (a usage error).
          await early?.prefetch.then(
            (p) => p.close(),
            () => undefined,
          );
        }
      case 'demo':
        return await demoCommand(rest);
      case 'generate':
        return await generateCommand(rest);
      case 'graph':
        return await graphCommand(rest);
      case 'trigger':
        return await triggerCommand(rest);
      case 'ui':
        return await (await import('./console-commands.js')).uiCommand(rest, tools);
      case 'runs':
        return await (await import('./console-commands.js')).runsCommand(rest, tools);
      case 'backfill':
        return await (await import('./console-commands.js')).backfillCommand(rest, tools);
      case 'reexecute':
        return await (await import('./console-commands.js')).reexecuteCommand(rest, tools);
      case 'logs':
        return await (await import('./console-commands.js')).logsCommand(rest, tools);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return cmd === undefined ? EXIT.USAGE : EXIT.OK;
      default:
        usage(`unknown command ${JSON.stringify(cmd)}`);
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
// Output piped into a reader that stopped (`bottleneck logs RUN | head`): done, not a crash.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
  throw e;
});
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bottleneck: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EXIT.INTERNAL;
  },
);
