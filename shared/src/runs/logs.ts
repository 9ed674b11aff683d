import { isBottleneckError } from '../errors/index.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { Logger } from '../stage/context.js';
import { redactSecrets } from '../text/redact.js';
import { RUNS_PREFIX } from './record.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** The stages that keep a log of a run, in pipeline order (the alerter's: the failure's dead-letter record and mail). */
export const LOG_STAGES = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One log record of a stage's handling of a run, as kept in the store: redacted and bounded. */
export interface LogRecord {
  time: string;
  level: LogLevel;
  stage: string;
  msg: string;
  [field: string]: unknown;
}

/** A stage's log of one run: the records kept and how many were dropped past the bound. */
export interface StageLog {
  runId: string;
  partition: string;
  stage: string;
  records: LogRecord[];
  dropped: number;
}

/**
 * Records kept per stage and run: the first `LOG_HEAD` and the last `LOG_TAIL` (where a failure
 * is); those between are dropped and counted. So a run's log is at most 7 x 200 records (the five
 * asset stages, the alerter, and a redelivered handling overwrites its own).
 */
export const LOG_HEAD = 150;
export const LOG_TAIL = 50;
export const LOG_MAX_RECORDS = LOG_HEAD + LOG_TAIL;
/** A record's message and its fields (as JSON) are cut past these lengths. */
export const LOG_MAX_MSG = 1_000;
export const LOG_MAX_FIELDS = 2_000;

/** runs/<month>/<run-id>/<stage>.log.jsonl: beside the stage's run record (not .json: the catalog does not read it). */
export const runLogKey = (partition: string, runId: string, stage: string) =>
  `${RUNS_PREFIX}${partition}/${runId}/${stage}.log.jsonl`;

const cut = (s: string, max: number) =>
  s.length > max ? `${s.slice(0, max)}... (${s.length - max} more characters)` : s;

const SECRET_KEY = /secret|password|passwd|api[_-]?key|token|authorization|credential/i;

/** A value as it may be kept: strings redacted, a field named like a secret hidden whole, errors as their message. */
function redactValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return redactSecrets(v);
  if (v instanceof Error) return redactSecrets(v.message);
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' ? undefined : v;
  if (depth > 5) return '[nested too deep]';
  if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1));
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) && x != null ? '[secret]' : redactValue(x, depth + 1)]),
  );
}

/** Fields as they may be kept: secrets redacted, the whole bounded (past LOG_MAX_FIELDS, kept as cut text). */
function safeFields(obj: object): Record<string, unknown> {
  const fields = redactValue(obj) as Record<string, unknown>;
  const json = JSON.stringify(fields);
  return json.length > LOG_MAX_FIELDS ? { fields: cut(json, LOG_MAX_FIELDS) } : fields;
}

/**
 * What a stage logs while it handles one run's event, kept for the run record: every record
 * redacted (`redactSecrets`, as everywhere), bounded (`LOG_HEAD` first and `LOG_TAIL` last kept,
 * the rest counted in `dropped`).
 *
 * @example
 * const buf = new RunLogBuffer('clean', () => new Date());
 * const log = buf.tee(ctx.log); // hand `log` to the stage; then buf.records(), buf.dropped
 */
export class RunLogBuffer {
  private readonly head: LogRecord[] = [];
  private tail: LogRecord[] = [];
  private total = 0;

  constructor(
    readonly stage: string,
    private readonly now: () => Date,
  ) {}

  add(level: LogLevel, obj: object, msg?: string): void {
    try {
      this.keep(level, obj, msg);
    } catch {
      // Logging never fails a stage (a field that cannot be kept is not worth a run).
    }
  }

  private keep(level: LogLevel, obj: object, msg?: string): void {
    // The run's identity is the log's own: not repeated in every record.
    const { runId: _r, partition: _p, stage: _s, eventId: _e, ...rest } = obj as Record<string, unknown>;
    const rec: LogRecord = {
      ...safeFields(rest),
      time: this.now().toISOString(),
      level,
      stage: this.stage,
      msg: cut(redactSecrets(msg ?? ''), LOG_MAX_MSG),
    };
    this.total++;
    if (this.head.length < LOG_HEAD) this.head.push(rec);
    else {
      this.tail.push(rec);
      if (this.tail.length > LOG_TAIL) this.tail = this.tail.slice(-LOG_TAIL);
    }
  }

  get dropped(): number {
    return this.total - this.head.length - this.tail.length;
  }

  /** The records kept; where some were dropped, a record in their place says how many. */
  records(): LogRecord[] {
    const gap: LogRecord[] = this.dropped
      ? [
          {
            time: this.tail[0]?.time ?? this.now().toISOString(),
            level: 'warn',
            stage: this.stage,
            msg: `${this.dropped} log record${this.dropped === 1 ? '' : 's'} dropped here: a stage keeps the first ${LOG_HEAD} and the last ${LOG_TAIL} of a run`,
            dropped: this.dropped,
          },
        ]
      : [];
    return [...this.head, ...gap, ...this.tail];
  }

  /** A logger that writes to `base` (the service's log) and keeps each record here. */
  tee(base: Logger): Logger {
    const at =
      (level: LogLevel) =>
      (obj: object, msg?: string): void => {
        base[level](obj, msg);
        this.add(level, obj, msg);
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  /** The stage's log of the run, as stored. */
  toLog(runId: string, partition: string): StageLog {
    return { runId, partition, stage: this.stage, records: this.records(), dropped: this.dropped };
  }
}

/** Writes a stage's log of a run: one JSON line of header (`dropped`), then one line per record. */
export async function writeStageLog(store: ObjectStore, log: StageLog): Promise<void> {
  const lines = [
    JSON.stringify({ runId: log.runId, partition: log.partition, stage: log.stage, dropped: log.dropped }),
    ...log.records.map((r) => JSON.stringify(r)),
  ];
  await store.put(runLogKey(log.partition, log.runId, log.stage), lines.join('\n') + '\n', {
    contentType: 'application/x-ndjson',
  });
}

/** A stage's log of a run, or null when it has none (not run yet, or run before logs were kept). */
export async function readStageLog(
  store: ObjectStore,
  partition: string,
  runId: string,
  stage: string,
): Promise<StageLog | null> {
  let text: string;
  try {
    text = (await store.get(runLogKey(partition, runId, stage))).toString('utf8');
  } catch (e) {
    if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') return null;
    throw e;
  }
  const [first, ...rest] = text.split('\n').filter((l) => l.trim() !== '');
  const header = first ? (JSON.parse(first) as { dropped?: number }) : {};
  return {
    runId,
    partition,
    stage,
    records: rest.map((l) => JSON.parse(l) as LogRecord),
    dropped: typeof header.dropped === 'number' ? header.dropped : 0,
  };
}

export interface LogQuery {
  /** Only this stage's records. */
  stage?: string;
  /** Only records at this level or above (`warn`: warnings and errors). */
  level?: LogLevel;
  /** Only records whose message or fields contain this text (case-insensitive). */
  q?: string;
}

/**
 * A run's log across its stages (in `stages`' order), filtered: what `GET
 * /api/runs/:runId/logs` answers and `bottleneck logs` prints. `stages` in the answer lists the
 * stages that have a log; `dropped` sums what the selected stages dropped past the bound.
 */
export async function readRunLogs(
  store: ObjectStore,
  run: { runId: string; partition: string },
  stages: readonly string[],
  query: LogQuery = {},
): Promise<{ runId: string; partition: string; stages: string[]; records: LogRecord[]; dropped: number }> {
  const logs = (await Promise.all(stages.map((s) => readStageLog(store, run.partition, run.runId, s)))).filter(
    (l): l is StageLog => l !== null,
  );
  const min = query.level ? LOG_LEVELS.indexOf(query.level) : 0;
  const q = query.q?.toLowerCase();
  const selected = logs.filter((l) => !query.stage || l.stage === query.stage);
  const records = selected
    .flatMap((l) => l.records)
    .filter((r) => LOG_LEVELS.indexOf(r.level) >= min)
    .filter((r) => {
      if (!q) return true;
      const { time: _t, level: _l, stage: _s, msg, ...fields } = r;
      return msg.toLowerCase().includes(q) || JSON.stringify(fields).toLowerCase().includes(q);
    });
  return {
    runId: run.runId,
    partition: run.partition,
    stages: logs.map((l) => l.stage),
    records,
    dropped: selected.reduce((n, l) => n + l.dropped, 0),
  };
}
