import { listInWords, type PartitionInfo, type RunDetail, type Snapshot } from './index.js';

/**
 * What the console offers for a month, and why: the one action that can succeed given the month's
 * latest run and the files now in incoming/. A re-execution reuses what the failed run read, so it
 * is offered only while those inputs are still the ones in incoming/; a new version of a file
 * needs a re-run (a new run from the new files); the very files a run already refused for bad data
 * get no action at all (another attempt would only add a dead-letter record and a mail).
 */
export type OfferedAction =
  | { action: 'rerun'; partition: string; label: string; why: string }
  | { action: 'reexecute'; partition: string; runId: string; fromStage: string; label: string; why: string }
  | { action: 'none'; partition: string; why: string };

/** The input files whose version in incoming/ is not the one the run read (or that are gone). */
export function changedInputs(run: RunDetail, month: PartitionInfo): string[] {
  return month.incoming
    .filter((f) => {
      const read = run.inputs.find((i) => i.name === `${f.name}.xlsx`);
      // A file the run never saw (missing then, or not pinned) that is there now counts as new.
      if (!f.present) return read?.etag !== undefined;
      return read?.etag === undefined || read.etag !== f.etag;
    })
    .map((f) => `${f.name}.xlsx`);
}

const retriable = (run: RunDetail) => Boolean((run.error as { retriable?: boolean } | null)?.retriable);

/** The stage's code changed since the run: the same files may pass now. */
function codeChanged(run: RunDetail, codeVersions?: Readonly<Record<string, string | undefined>>): boolean {
  const stage = run.error?.stage;
  const span = run.stages.find((s) => s.stage === stage);
  const now = stage ? codeVersions?.[stage] : undefined;
  return Boolean(span && now && span.codeVersion !== 'unknown' && span.codeVersion !== now);
}

/** Whether the run failed on its data (not a passing fault, not code since changed) and read exactly the files now in incoming/. */
export function failedOnTheseFiles(
  run: RunDetail,
  month: PartitionInfo,
  codeVersions?: Readonly<Record<string, string | undefined>>,
): boolean {
  if (run.status !== 'failed' || !run.error || retriable(run) || codeChanged(run, codeVersions)) return false;
  if (month.incoming.some((f) => !f.present)) return false;
  return changedInputs(run, month).length === 0;
}

/**
 * Whether the month's files are a version a run already refused for bad data: then re-running or
 * re-executing it can only fail the same way. Returns that run (the month's latest), else null.
 */
export function knownBad(
  s: Snapshot,
  partition: string,
  codeVersions?: Readonly<Record<string, string | undefined>>,
): RunDetail | null {
  const month = s.partitions.find((p) => p.partition === partition);
  const latest = s.runs.find((r) => r.partition === partition && r.status !== 'running');
  return month && latest && failedOnTheseFiles(latest, month, codeVersions) ? latest : null;
}

/** The action the console offers for a month, with the reason in words. */
export function offerFor(
  s: Snapshot,
  partition: string,
  codeVersions?: Readonly<Record<string, string | undefined>>,
): OfferedAction {
  const month = s.partitions.find((p) => p.partition === partition);
  if (!month) return { action: 'none', partition, why: `no month ${partition} in the store` };
  const missing = month.incoming.filter((f) => !f.present).map((f) => `${f.name}.xlsx`);
  if (month.status === 'running') return { action: 'none', partition, why: `${month.words}: wait for it to end` };
  if (missing.length)
    return {
      action: 'none',
      partition,
      why: `${listInWords(missing)} ${missing.length > 1 ? 'are' : 'is'} missing from incoming/${partition}/: drop ${missing.length > 1 ? 'them' : 'it'} there (the month runs by itself once all three have settled), or dismiss the month if it should not be here`,
    };
  const latest = s.runs.find((r) => r.partition === partition);
  if (month.status !== 'failed' || latest?.status !== 'failed')
    return {
      action: 'rerun',
      partition,
      label: `Re-run ${partition}`,
      why:
        month.status === 'published'
          ? `${partition} is published and its files have not changed: a re-run reads them again`
          : `${month.words}: a re-run reads the files now in incoming/${partition}/`,
    };
  const changed = changedInputs(latest, month);
  const where = latest.error ? `${latest.error.stage} failed` : 'the run failed';
  if (changed.length)
    return {
      action: 'rerun',
      partition,
      label: `Re-run ${partition} with the new files`,
      why: `${where} in run ${latest.runId}; ${listInWords(changed)} changed in incoming/ since: a new run reads the new files and publishes the month if they pass (re-executing from ${latest.error?.stage ?? 'the failed stage'} would reuse the old versions)`,
    };
  if (codeChanged(latest, codeVersions) || retriable(latest)) {
    const reused = Object.values(latest.materializations).some((m) => m.stage === 'reused');
    const fromStage = latest.error?.stage ?? 'ingest';
    if (reused)
      return {
        action: 'rerun',
        partition,
        label: `Re-run ${partition}`,
        why: `${where} in run ${latest.runId}, which re-executed run ${latest.trigger.parentRunId ?? 'another run'}: a new run reads the files again`,
      };
    return {
      action: 'reexecute',
      partition,
      runId: latest.runId,
      fromStage,
      label: `Re-execute from ${fromStage}`,
      why: retriable(latest)
        ? `${where} in run ${latest.runId} for a passing reason (${latest.error?.code ?? 'error'}) and its inputs are unchanged: re-executing from ${fromStage} reuses what the run already read`
        : `the code of ${fromStage} changed since run ${latest.runId} failed on these files: re-executing from ${fromStage} tries them with the new code`,
    };
  }
  return {
    action: 'none',
    partition,
    why: `run ${latest.runId} already failed on these very files (${latest.error?.words ?? 'failed'}): fix the export and drop the new file in incoming/${partition}/; the console then offers a re-run (or the month runs by itself)`,
  };
}
