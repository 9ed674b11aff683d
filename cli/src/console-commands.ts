import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { CliTools } from './bin.js';
import { runLink } from '@bottleneck/shared/links';
import { errorMessage } from '@bottleneck/shared/errors/index';
import type { RunDetail, RunSummary, Snapshot } from '@bottleneck/shared/catalog/index';

/** `bottleneck ui`, `runs`, `backfill`, `reexecute`: the console's commands (loaded only when one is run). */

const write = (s: string) => process.stdout.write(s);

async function outDir(t: CliTools, v: unknown, cmd: string): Promise<string> {
  if (typeof v !== 'string') t.usage(`${cmd} needs --out DIR (the folder store \`bottleneck run\` writes)`);
  const dir = resolve(v);
  if (
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    t.usage(`--out ${v}: no such folder`);
  return dir;
}

const seconds = (ms: number | null) => (ms === null ? '' : `${(ms / 1000).toFixed(1)} s`);

function runLine(r: RunSummary | RunDetail, consoleUrl?: string): string {
  const link = consoleUrl && r.status === 'failed' ? `\n    ${runLink(consoleUrl, r.runId)}` : '';
  const stages = r.stages
    .filter((s) => s.stage !== 'alerter')
    .map((s) => `${s.stage}:${s.status}`)
    .join(' ');
  return `${r.runId}  ${r.partition}  ${r.status.padEnd(10)}  ${r.trigger.source.padEnd(11)}  ${r.startedAt}  ${seconds(r.durationMs).padStart(7)}  ${stages}${r.error ? `\n    ${r.error.words}` : ''}${link}\n`;
}

export async function uiCommand(argv: string[], t: CliTools): Promise<number> {
  const { values: v } = t.parse(
    argv,
    {
      out: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'no-watch': { type: 'boolean' },
      'settle-ms': { type: 'string' },
    },
    false,
  );
  if (v.help) return (write(t.help), t.EXIT.OK);
  const out = await outDir(t, v.out, 'ui');
  const port = t.intOf('port', v.port, 8090);
  const settleMs = t.intOf('settle-ms', v['settle-ms'], 5000);
  const host = typeof v.host === 'string' ? v.host : '127.0.0.1';
  const config = await t.config();
  const { isLoopback } = await import('@bottleneck/console/app');
  if (!isLoopback(host) && !config.BN_CONSOLE_TOKEN)
    t.usage(
      `--host ${host} would open the console (its data and its actions) to the network without a token: set BN_CONSOLE_TOKEN (every API call then needs it), or keep the default 127.0.0.1`,
    );
  const hosts = ['localhost', '127.0.0.1', '::1', host, ...(config.BN_CONSOLE_HOSTS ?? [])];
  const [{ embeddedConsole }, { stderrLogger }] = await Promise.all([import('./console.js'), import('./log.js')]);
  const { app } = await embeddedConsole(out, {
    ...(config.BN_CONSOLE_TOKEN ? { token: config.BN_CONSOLE_TOKEN } : {}),
    ...(config.BN_CONSOLE_URL ? { consoleUrl: config.BN_CONSOLE_URL } : {}),
    settings: (await import('@bottleneck/shared/assets/settings')).checkSettingsOf(config),
    ...(config.BN_FILES_DUE_DAY ? { filesDueDay: config.BN_FILES_DUE_DAY } : {}),
    refreshMs: Math.min(config.BN_CONSOLE_REFRESH_MS, 1000),
    log: stderrLogger('error'),
    // The watcher's doings, in words on stdout (the stages' own lines stay quiet).
    watchLog: {
      debug() {},
      info: (obj: object, msg?: string) => {
        const o = obj as { partition?: string; runId?: string };
        write(`${new Date().toISOString()}  ${o.partition ?? ''}: ${msg ?? ''}${o.runId ? ` (run ${o.runId})` : ''}\n`);
      },
      warn: (obj: object, msg?: string) => {
        const o = obj as { partition?: string; reason?: string };
        write(`${new Date().toISOString()}  ${o.partition ?? ''}: ${msg ?? ''}${o.reason ? `: ${o.reason}` : ''}\n`);
      },
      error: (obj: object, msg?: string) =>
        process.stderr.write(`bottleneck ui: ${msg ?? ''} ${JSON.stringify(obj)}\n`),
    },
    hosts,
    watch: v['no-watch'] ? false : { settleMs, intervalMs: 1000 },
  });
  try {
    await app.listen({ host, port });
  } catch (e) {
    t.usage(`cannot listen on ${host}:${port}: ${errorMessage(e)}`);
  }
  // The addresses the socket really has (0.0.0.0 is every interface, not 127.0.0.1).
  const addresses = app
    .addresses()
    .map((a) =>
      typeof a === 'string' ? a : `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`,
    );
  write(
    `bottleneck ui: the console over ${out} at ${addresses.join(' and ')}${config.BN_CONSOLE_TOKEN ? ' (the page asks for BN_CONSOLE_TOKEN once, or take it in the link: #token=...)' : ''}\n${v['no-watch'] ? 'incoming/ is not watched (--no-watch): run months from the page.' : `watching incoming/: a waiting or failed month runs by itself once its files have settled (${settleMs} ms)`}\nCtrl-C to stop.\n`,
  );
  await new Promise<void>((r) => {
    process.once('SIGTERM', () => r());
    process.once('SIGINT', () => r());
  });
  await app.close();
  return t.EXIT.OK;
}

export async function runsCommand(argv: string[], t: CliTools): Promise<number> {
  const { values: v } = t.parse(
    argv,
    { out: { type: 'string' }, partition: { type: 'string' }, status: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  if (v.help) return (write(t.help), t.EXIT.OK);
  const out = await outDir(t, v.out, 'runs');
  const partition = v.partition === undefined ? undefined : t.partitionOf(v.partition);
  const statuses = ['running', 'published', 'succeeded', 'failed', 'superseded'];
  if (v.status !== undefined && !statuses.includes(String(v.status)))
    t.usage(`--status must be one of ${statuses.join(', ')} (got ${JSON.stringify(v.status)})`);
  const [{ Catalog, filterRuns }, { FolderStore }, { graphSpec }] = await Promise.all([
    import('@bottleneck/shared/catalog/index'),
    import('@bottleneck/shared/adapters/folder-store'),
    import('./console.js'),
  ]);
  const config = await t.config();
  const consoleUrl = config.BN_CONSOLE_URL;
  const s = await new Catalog(
    new FolderStore(out),
    graphSpec(),
    () => new Date(),
    config.BN_FILES_DUE_DAY ? { filesDueDay: config.BN_FILES_DUE_DAY } : {},
  ).snapshot();
  const runs = filterRuns(s, {
    ...(partition ? { partition } : {}),
    ...(typeof v.status === 'string' ? { status: v.status } : {}),
  });
  if (v.json) {
    write(JSON.stringify({ runs }, null, 2) + '\n');
    return t.EXIT.OK;
  }
  const status = typeof v.status === 'string' ? v.status : undefined;
  if (!runs.length)
    write(`no ${status ? `${status} ` : ''}run recorded in ${out}${partition ? ` for ${partition}` : ''}\n`);
  for (const r of runs) write(runLine(r, consoleUrl));
  // The months' states are a summary of everything: shown only when the runs are not filtered by status.
  const months = status ? [] : s.partitions.filter((p) => !partition || p.partition === partition);
  if (months.length) write(`\n${months.map((p) => `${p.partition}  ${p.status.padEnd(17)}  ${p.words}`).join('\n')}\n`);
  return t.EXIT.OK;
}

/** The Kafka bus of the services, for the commands that go through them. */
async function servicesBus(t: CliTools) {
  const config = await t.config();
  if (!config.KAFKA_BROKERS?.length)
    t.usage(
      'without --out, this command goes through the services: it needs KAFKA_BROKERS (or give --out DIR to run here)',
    );
  const { kafkaBus, kafkaSettings } = await import('@bottleneck/shared/wiring');
  try {
    return {
      config,
      bus: await kafkaBus({ ...kafkaSettings({ ...config, KAFKA_BROKERS: config.KAFKA_BROKERS }), quick: true }),
    };
  } catch (e) {
    return t.usage(`KAFKA_BROKERS: ${errorMessage(e)}`);
  }
}

/** The services' bucket, from the same settings they have. */
async function bucketStore(config: Awaited<ReturnType<CliTools['config']>> & { S3_BUCKET: string }) {
  const { S3Store } = await import('@bottleneck/shared/adapters/s3-store');
  return new S3Store({
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    ...(config.S3_PREFIX ? { prefix: config.S3_PREFIX } : {}),
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    ...(config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } }
      : {}),
  });
}

function unreachable(e: unknown, t: CliTools): number {
  const code = (e as { code?: string }).code;
  if (code !== 'BN_ERR_BUS_CONNECT' && code !== 'BN_ERR_BUS_PUBLISH' && code !== 'BN_ERR_BUS_TOPICS') throw e;
  process.stderr.write(`bottleneck: could not reach Kafka (KAFKA_BROKERS): ${errorMessage(e)}\n`);
  return t.EXIT.UNAVAILABLE;
}

export async function backfillCommand(argv: string[], t: CliTools): Promise<number> {
  const { values: v } = t.parse(
    argv,
    { from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  if (v.help) return (write(t.help), t.EXIT.OK);
  if (v.from === undefined || v.to === undefined) t.usage('backfill needs --from YYYY-MM and --to YYYY-MM');
  const from = t.partitionOf(v.from);
  const to = t.partitionOf(v.to);
  const { monthRange } = await import('@bottleneck/shared/catalog/index');
  const { MAX_BACKFILL_MONTHS, backfillProgress } = await import('@bottleneck/shared/catalog/actions');
  let months: string[];
  try {
    months = monthRange(from, to);
  } catch (e) {
    return t.usage(`backfill: ${errorMessage(e)}`);
  }
  if (months.length > MAX_BACKFILL_MONTHS)
    t.usage(`backfill: at most ${MAX_BACKFILL_MONTHS} months at once (${from} to ${to} is ${months.length})`);
  if (v.out !== undefined) {
    const out = await outDir(t, v.out, 'backfill');
    const { EmbeddedEngine } = await import('./console.js');
    const consoleUrl = (await t.config()).BN_CONSOLE_URL;
    const engine = new EmbeddedEngine(out, undefined, consoleUrl ? { consoleUrl } : {});
    try {
      const rec = await (await engine.actions()).backfill(from, to, { snapshot: await engine.catalog.snapshot() });
      if (!v.json) {
        write(`backfill ${rec.id}: ${rec.runs.length} month${rec.runs.length === 1 ? '' : 's'}, running here\n`);
        for (const sk of rec.skipped ?? []) write(`  ${sk.partition}  skipped: ${sk.why}\n`);
      }
      await engine.idle();
      const progress = backfillProgress(rec, await engine.catalog.snapshot());
      if (v.json) write(JSON.stringify(progress, null, 2) + '\n');
      else
        for (const r of progress.runs)
          write(
            `  ${r.partition}  ${r.runId}  ${r.status}${consoleUrl && r.status === 'failed' ? `  ${runLink(consoleUrl, r.runId)}` : ''}\n`,
          );
      return progress.status === 'done' ? t.EXIT.OK : t.EXIT.RUN_FAILED;
    } finally {
      await engine.close();
    }
  }
  const { config, bus } = await servicesBus(t);
  try {
    if (config.S3_BUCKET) {
      // With the bucket: as the console does (months without their files skipped, the outbox).
      const [{ Catalog }, { Actions }, { graphSpec }] = await Promise.all([
        import('@bottleneck/shared/catalog/index'),
        import('@bottleneck/shared/catalog/actions'),
        import('./console.js'),
      ]);
      const store = await bucketStore({ ...config, S3_BUCKET: config.S3_BUCKET });
      try {
        const rec = await new Actions(store, bus, { codeVersions: graphSpec().codeVersions, waitMs: 10_000 }).backfill(
          from,
          to,
          { snapshot: await new Catalog(store, graphSpec()).snapshot() },
        );
        if (v.json) write(JSON.stringify(rec, null, 2) + '\n');
        else {
          write(
            `backfill ${rec.id} ${rec.pending ? 'recorded (Kafka has not taken it yet: the console service sends it when Kafka is back)' : 'sent to the services'}: ${rec.runs.map((r) => `${r.partition} (run ${r.runId})`).join(', ') || 'no month to run'}\n`,
          );
          for (const sk of rec.skipped ?? []) write(`  ${sk.partition}  skipped: ${sk.why}\n`);
        }
        return t.EXIT.OK;
      } finally {
        store.close();
      }
    }
    const { makeEvent, newRunId, stageEventId } = await import('@bottleneck/shared/events/index');
    const runs: { partition: string; runId: string }[] = [];
    for (const partition of months) {
      const runId = newRunId(partition);
      await bus.publish(
        makeEvent(
          'trigger',
          { runId, partition, materializations: {}, checks: [], payload: { source: 'backfill' } },
          new Date(),
          stageEventId(runId, 'trigger'),
        ),
      );
      runs.push({ partition, runId });
    }
    write(
      v.json
        ? JSON.stringify({ from, to, runs }, null, 2) + '\n'
        : `backfill sent to the services: ${runs.map((r) => `${r.partition} (run ${r.runId})`).join(', ')}\n` +
            '  not recorded as a backfill (S3_BUCKET is not set): the console lists it, and can cancel it, only when S3_BUCKET is set\n',
    );
    return t.EXIT.OK;
  } catch (e) {
    return unreachable(e, t);
  } finally {
    await bus.close().catch(() => undefined);
  }
}

export async function reexecuteCommand(argv: string[], t: CliTools): Promise<number> {
  const { values: v, positionals } = t.parse(argv, { out: { type: 'string' }, json: { type: 'boolean' } }, true);
  if (v.help) return (write(t.help), t.EXIT.OK);
  const runId = positionals[0];
  if (!runId || positionals.length > 1 || !/^[A-Za-z0-9._-]{1,128}$/.test(runId))
    t.usage('reexecute needs one RUN_ID (see `bottleneck runs`)');
  const consoleUrl = (await t.config()).BN_CONSOLE_URL;
  const [{ Catalog }, { ActionRefused, Actions }, { graphSpec }] = await Promise.all([
    import('@bottleneck/shared/catalog/index'),
    import('@bottleneck/shared/catalog/actions'),
    import('./console.js'),
  ]);
  const refused = (e: unknown): number => {
    if (!(e instanceof ActionRefused)) throw e;
    process.stderr.write(`bottleneck: ${e.message}\n`);
    return t.EXIT.USAGE;
  };
  const report = (r: { runId: string; fromStage: string; pending?: boolean }, s: Snapshot | null) => {
    const run = s?.runs.find((x) => x.runId === r.runId);
    if (v.json) write(JSON.stringify(run ?? r, null, 2) + '\n');
    else
      write(
        `re-execution of ${runId} from ${r.fromStage}: run ${r.runId}${run ? `\n${runLine(run, consoleUrl)}` : r.pending ? ' recorded as pending: Kafka did not take it yet, the console service sends it when Kafka is back\n' : ' sent to the services\n'}`,
      );
    return !run || run.status === 'published' || run.status === 'succeeded' ? t.EXIT.OK : t.EXIT.RUN_FAILED;
  };
  if (v.out !== undefined) {
    const out = await outDir(t, v.out, 'reexecute');
    const { EmbeddedEngine } = await import('./console.js');
    const engine = new EmbeddedEngine(out, undefined, consoleUrl ? { consoleUrl } : {});
    try {
      const r = await (await engine.actions()).reexecute(runId, await engine.catalog.snapshot()).catch(refused);
      if (typeof r === 'number') return r;
      await engine.idle();
      return report(r, await engine.catalog.snapshot());
    } finally {
      await engine.close();
    }
  }
  const { config, bus } = await servicesBus(t);
  try {
    if (!config.S3_BUCKET)
      t.usage(
        "without --out, reexecute reads the run's record from the bucket: it needs S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID... as the services have them)",
      );
    const store = await bucketStore({ ...config, S3_BUCKET: config.S3_BUCKET });
    try {
      const r = await new Actions(store, bus, { codeVersions: graphSpec().codeVersions, waitMs: 10_000 })
        .reexecute(runId, await new Catalog(store, graphSpec()).snapshot())
        .catch(refused);
      return typeof r === 'number' ? r : report(r, null);
    } finally {
      store.close();
    }
  } catch (e) {
    return unreachable(e, t);
  } finally {
    await bus.close().catch(() => undefined);
  }
}

/** One log record as a line a person reads: time, level, stage, message, then the other fields. */
export function logLine(r: import('@bottleneck/shared/runs/logs').LogRecord): string {
  const { time, level, stage, msg, ...fields } = r;
  const rest = Object.keys(fields).length ? `  ${JSON.stringify(fields)}` : '';
  return `${time}  ${level.toUpperCase().padEnd(5)}  ${stage.padEnd(9)}  ${msg}${rest}\n`;
}

export async function logsCommand(argv: string[], t: CliTools): Promise<number> {
  const { values: v, positionals } = t.parse(
    argv,
    {
      out: { type: 'string' },
      stage: { type: 'string' },
      level: { type: 'string' },
      q: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (v.help) return (write(t.help), t.EXIT.OK);
  const runId = positionals[0];
  if (!runId || positionals.length > 1 || !/^[A-Za-z0-9._-]{1,128}$/.test(runId))
    t.usage('logs needs one RUN_ID (see `bottleneck runs`)');
  const { LOG_LEVELS, LOG_STAGES, readRunLogs } = await import('@bottleneck/shared/runs/logs');
  const stage = v.stage === undefined ? undefined : String(v.stage);
  const level = v.level === undefined ? undefined : String(v.level);
  if (stage !== undefined && !(LOG_STAGES as readonly string[]).includes(stage))
    t.usage(`--stage must be one of ${LOG_STAGES.join(', ')} (got ${JSON.stringify(stage)})`);
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level))
    t.usage(`--level must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`);
  const [{ Catalog }, { graphSpec }] = await Promise.all([
    import('@bottleneck/shared/catalog/index'),
    import('./console.js'),
  ]);
  let store: import('@bottleneck/shared/ports/object-store').ObjectStore & { close?: () => void };
  let where: string;
  if (v.out !== undefined) {
    const out = await outDir(t, v.out, 'logs');
    const { FolderStore } = await import('@bottleneck/shared/adapters/folder-store');
    store = new FolderStore(out);
    where = out;
  } else {
    const config = await t.config();
    if (!config.S3_BUCKET)
      t.usage('logs reads the run records: give --out DIR (a folder store), or S3_BUCKET (and S3_*) for the services');
    store = await bucketStore({ ...config, S3_BUCKET: config.S3_BUCKET });
    where = `s3://${config.S3_BUCKET}`;
  }
  try {
    const s = await new Catalog(store, graphSpec()).snapshot();
    const run = s.runs.find((r) => r.runId === runId);
    if (!run) t.usage(`no run ${runId} recorded in ${where} (see \`bottleneck runs\`)`);
    const logs = await readRunLogs(store, run, LOG_STAGES, {
      ...(stage ? { stage } : {}),
      ...(level ? { level: level as (typeof LOG_LEVELS)[number] } : {}),
      ...(typeof v.q === 'string' ? { q: v.q } : {}),
    });
    if (v.json) {
      write(JSON.stringify(logs, null, 2) + '\n');
      return t.EXIT.OK;
    }
    write(
      `run ${runId} (${run.partition}, ${run.status}): ${logs.records.length} log record${logs.records.length === 1 ? '' : 's'}${stage ? ` of ${stage}` : ''}${level ? ` at ${level} or above` : ''}${logs.dropped ? `; ${logs.dropped} dropped past the bound` : ''}\n`,
    );
    if (!logs.stages.length)
      write('  no stage of this run kept a log (runs recorded before logs were kept have none)\n');
    for (const r of logs.records) write(logLine(r));
    return t.EXIT.OK;
  } finally {
    store.close?.();
  }
}
