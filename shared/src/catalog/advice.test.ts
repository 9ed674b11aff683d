import { describe, expect, it } from 'vitest';
import { changedInputs, knownBad, offerFor } from './advice.js';
import type { PartitionInfo, RunDetail, Snapshot } from './index.js';

const M = '2026-04';
const files = (etags: Partial<Record<'erp' | 'web' | 'liaison', string>>): PartitionInfo['incoming'] =>
  (['erp', 'web', 'liaison'] as const).map((n) =>
    etags[n] ? { name: n, present: true, etag: etags[n] } : { name: n, present: false },
  );

function run(o: {
  etags?: Partial<Record<'erp' | 'web' | 'liaison', string>>;
  stage?: string;
  retriable?: boolean;
  codeVersion?: string;
  status?: RunDetail['status'];
}): RunDetail {
  const etags = o.etags ?? { erp: 'e1', web: 'w1', liaison: 'l1' };
  const stage = o.stage ?? 'clean';
  return {
    runId: `${M}-run`,
    partition: M,
    status: o.status ?? 'failed',
    trigger: { source: 'upload', eventId: 'x' },
    startedAt: '2026-05-01T00:00:00.000Z',
    endedAt: '2026-05-01T00:00:01.000Z',
    recordedAt: '2026-05-01T00:00:01.000Z',
    durationMs: 1000,
    inputs: (['erp', 'web', 'liaison'] as const).map((n) => ({
      name: `${n}.xlsx`,
      key: `incoming/${M}/${n}.xlsx`,
      ...(etags[n] ? { etag: etags[n] } : {}),
    })),
    stages: [
      {
        stage,
        status: 'failed',
        consumed: 'x',
        startedAt: '',
        endedAt: '',
        durationMs: 1,
        codeVersion: o.codeVersion ?? 'v1',
      },
    ],
    materializations: {},
    checks: [],
    error:
      (o.status ?? 'failed') === 'failed'
        ? ({
            stage,
            code: o.retriable ? 'BN_ERR_INFRA_UNAVAILABLE' : 'BN_ERR_CELL_TYPE',
            message: 'row 7: "vingt euros" is not a number',
            words: `${stage} failed: row 7: "vingt euros" is not a number`,
            retriable: Boolean(o.retriable),
          } as RunDetail['error'])
        : null,
    deadLetter: null,
    alert: null,
    published: null,
    children: [],
    codeVersion: o.codeVersion ?? 'v1',
  };
}

function snapshot(
  r: RunDetail,
  incoming: PartitionInfo['incoming'],
  status: PartitionInfo['status'] = 'failed',
): Snapshot {
  return {
    version: 'v',
    builtAt: '',
    runs: [r],
    refused: [],
    unrecognisedUploads: [],
    partitions: [
      {
        partition: M,
        status,
        words: r.error?.words ?? '',
        latestRun: null,
        published: null,
        refused: { count: 0, latest: [] },
        incoming,
        assets: {},
        figures: { totalRevenue: null, premium: null, ordinary: null, rowCounts: {}, monthOverMonth: [] },
        runs: 1,
        failedChecks: { WARN: 0, ERROR: 0 },
      },
    ],
  };
}

const CODE = { clean: 'v1' };

describe('what the console offers for a failed month', () => {
  it('a data error with the same files: nothing, and the files are known bad', () => {
    const s = snapshot(run({}), files({ erp: 'e1', web: 'w1', liaison: 'l1' }));
    expect(offerFor(s, M, CODE)).toEqual({
      action: 'none',
      partition: M,
      why: `run ${M}-run already failed on these very files (clean failed: row 7: "vingt euros" is not a number): fix the export and drop the new file in incoming/${M}/; the console then offers a re-run (or the month runs by itself)`,
    });
    expect(knownBad(s, M, CODE)?.runId).toBe(`${M}-run`);
  });

  it('one file changed (exactly one ETag differs): a re-run, never the re-execution', () => {
    const s = snapshot(run({}), files({ erp: 'e2', web: 'w1', liaison: 'l1' }));
    expect(changedInputs(s.runs[0]!, s.partitions[0]!)).toEqual(['erp.xlsx']);
    const o = offerFor(s, M, CODE);
    expect(o).toMatchObject({ action: 'rerun', label: `Re-run ${M} with the new files` });
    expect(o.why).toBe(
      `clean failed in run ${M}-run; erp.xlsx changed in incoming/ since: a new run reads the new files and publishes the month if they pass (re-executing from clean would reuse the old versions)`,
    );
    expect(knownBad(s, M, CODE)).toBeNull();
  });

  it('a passing fault (retriable) with the same files: re-execute from the failed stage', () => {
    const s = snapshot(run({ retriable: true, stage: 'merge' }), files({ erp: 'e1', web: 'w1', liaison: 'l1' }));
    expect(offerFor(s, M, CODE)).toMatchObject({
      action: 'reexecute',
      runId: `${M}-run`,
      fromStage: 'merge',
      label: 'Re-execute from merge',
    });
    expect(knownBad(s, M, CODE)).toBeNull();
  });

  it("the failed stage's code changed since: the same files may pass, re-execute", () => {
    const s = snapshot(run({}), files({ erp: 'e1', web: 'w1', liaison: 'l1' }));
    expect(offerFor(s, M, { clean: 'v2' })).toMatchObject({ action: 'reexecute', fromStage: 'clean' });
    expect(knownBad(s, M, { clean: 'v2' })).toBeNull();
  });

  it('a file missing: nothing, naming it', () => {
    const s = snapshot(run({}), files({ erp: 'e1', web: 'w1' }));
    expect(offerFor(s, M, CODE)).toMatchObject({
      action: 'none',
      why: `liaison.xlsx is missing from incoming/${M}/: drop it there (the month runs by itself once all three have settled), or dismiss the month if it should not be here`,
    });
  });

  it('a run that never saw a file (not pinned) counts it as new: a re-run', () => {
    const s = snapshot(run({ etags: { web: 'w1', liaison: 'l1' } }), files({ erp: 'e1', web: 'w1', liaison: 'l1' }));
    expect(offerFor(s, M, CODE).action).toBe('rerun');
  });
});
