import type { CheckResult, Materialization } from '../events/index.js';
import type { InputName } from '../keys.js';
import type { CurrentPointer } from '../published.js';
import type { StageRecord } from '../runs/record.js';

/** What the catalog needs of the asset graph (the declaration in assets/graph.ts). */
export interface GraphSpec {
  assets: readonly {
    key: string;
    stage: string;
    deps: readonly string[];
    description: string;
    kind?: string;
    checks: readonly { name: string; description: string; severity: 'ERROR' | 'WARN'; blocking: boolean }[];
  }[];
  /** Each stage's current code version: a month published by other code shows as stale. */
  codeVersions?: Readonly<Record<string, string | undefined>>;
}

export type RunStatus = 'running' | 'published' | 'succeeded' | 'failed' | 'superseded';
export type PartitionStatus = 'published' | 'failed' | 'running' | 'waiting-for-files' | 'stale' | 'late';
export type AssetState = 'materialized' | 'failed' | 'running' | 'not-run';

/** The asset stages, in pipeline order; the alerter's record of a failed run is kept beside them. */
export const RUN_STAGES = ['ingest', 'clean', 'merge', 'analytics', 'publisher'] as const;

export interface StageSpan {
  stage: string;
  status: StageRecord['status'];
  consumed: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  codeVersion: string;
}

export interface RunError {
  stage: string;
  code: string;
  message: string;
  asset?: string;
  location?: Record<string, unknown>;
  /** The message and where, in one sentence a person reads. */
  words: string;
}

export interface DeadLetterInfo {
  key: string;
  code?: string;
  message?: string;
  recordedAt?: string;
  alert?: { status: string; attempts: number; at?: string; error?: string };
}

/** One run, as the console shows it: what started it, what it read, what each stage did. */
export interface RunDetail {
  runId: string;
  partition: string;
  status: RunStatus;
  /** When the store recorded the run's first stage record: what orders runs (never a time an event claims). */
  recordedAt: string;
  trigger: { source: string; parentRunId?: string; eventId: string };
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  /** The input files the run read: key, ETag (what the trigger pinned) and sha256. */
  inputs: { name: string; key: string; etag?: string; sha256?: string; bytes?: number }[];
  stages: StageSpan[];
  materializations: Record<string, Materialization & { stage: string }>;
  checks: CheckResult[];
  error: RunError | null;
  deadLetter: DeadLetterInfo | null;
  alert: { status: string; attempts: number; at?: string; error?: string } | null;
  published: { current: boolean; manifestKey: string; files: CurrentPointer['files'] } | null;
  /** Runs that re-execute this one. */
  children: string[];
  codeVersion: string | null;
}

export type RunSummary = Omit<RunDetail, 'materializations' | 'checks' | 'inputs' | 'published'> & {
  failedChecks: { WARN: number; ERROR: number };
  published: boolean;
};

export interface PartitionInfo {
  partition: string;
  status: PartitionStatus;
  /** Why, in words ("erp.xlsx and web.xlsx arrived, waiting for liaison.xlsx"). */
  words: string;
  latestRun: RunSummary | null;
  published: { runId: string; publishedAt: string; runStartedAt: string } | null;
  incoming: { name: InputName; present: boolean; etag?: string; modified?: string }[];
  assets: Record<
    string,
    { state: AssetState; rowCount?: number; dataVersion?: string; warnings: number; errors: number }
  >;
  /** The month's figures from its published run (or its latest run that got that far). */
  figures: {
    totalRevenue: string | null;
    premium: number | null;
    ordinary: number | null;
    rowCounts: Record<string, number>;
    /**
     * The month-over-month checks (a `previousMonth` in their metadata) that failed in the run the
     * figures come from, in words: the plots mark these months.
     */
    monthOverMonth: { check: string; previousMonth: string; message: string }[];
  };
  runs: number;
  /** Failed checks of the latest run, by severity. */
  failedChecks: { WARN: number; ERROR: number };
  /** Events refused for this month (never runs): how many, and the latest five. */
  refused: { count: number; latest: RefusedEvent[] };
  /** With BN_FILES_DUE_DAY: the month is late (status `late`): since when, and which files are missing. */
  late?: { lateSince: string; missing: InputName[] };
}

export interface AssetHistoryEntry {
  partition: string;
  runId: string;
  runStatus: RunStatus;
  startedAt: string;
  /** `failed`: the run tried to materialize the asset and failed (`error` says why); data version and location are then empty. */
  status: 'materialized' | 'failed';
  rowCount: number | null;
  dataVersion: string;
  location: string;
  durationMs: number | null;
  checks: CheckResult[];
  error: RunError | null;
}

/**
 * An event the pipeline refused, shown under the month it names, never as a run: a message the bus
 * dead-lettered for what it is (unsigned, wrongly signed, invalid: the alerter's record under
 * refused/), or stage records of a run no stage of the pipeline started (`unverified-run`).
 */
export interface RefusedEvent {
  kind: 'unsigned' | 'bad-signature' | 'invalid' | 'unverified-run';
  /** The month the event names ('unknown' when it names none). */
  partition: string;
  /** What it claimed (shown, never used). */
  eventId: string | null;
  eventType: string | null;
  runId: string | null;
  /** Why it was refused, in words. */
  why: string;
  /** When the store recorded the refusal. */
  recordedAt: string;
  /** The record in the store. */
  key: string;
}

/** An object the pipeline cannot place (a wrong prefix, no month, a month that does not exist, an unknown file name). */
export interface UnrecognisedUpload {
  key: string;
  bytes: number;
  /** When the object was last modified in the store. */
  modified: string;
  /** When the pipeline first saw it. */
  seenAt: string;
  /** Why it cannot be placed, and what to do, in words. */
  why: string;
  /** Whether the alert about it went out. */
  alert: { status: string; attempts: number; at?: string } | null;
}

export interface Snapshot {
  /** A hash of every object the snapshot was built from: the API's ETag. */
  version: string;
  builtAt: string;
  partitions: PartitionInfo[];
  runs: RunDetail[];
  /** Refused events, newest first. */
  refused: RefusedEvent[];
  /** Uploads the pipeline cannot place, newest first. */
  unrecognisedUploads: UnrecognisedUpload[];
}
