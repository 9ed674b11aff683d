import { describe, expect, it } from 'vitest';
import { assetHistory, type RunDetail, type Snapshot } from './index.js';

const mat = (stage: string, rows = 10) => ({
  location: `staging/x/${stage}`,
  dataVersion: `v-${stage}`,
  metadata: { rowCount: rows, durationMs: 5 },
  stage,
});

function run(runId: string, partition: string, o: Partial<RunDetail>): RunDetail {
  return {
    runId,
    partition,
    status: 'published',
    recordedAt: `${partition}-02T00:00:00.000Z`,
    trigger: { source: 'upload', eventId: `${runId}.trigger` },
    startedAt: `${partition}-02T00:00:00.000Z`,
    endedAt: null,
    durationMs: null,
    inputs: [],
    stages: [
      {
        stage: 'clean',
        status: 'failed',
        consumed: 'file-arrived',
        startedAt: '',
        endedAt: null,
        durationMs: 42,
        codeVersion: 'v',
      },
    ],
    materializations: {},
    checks: [],
    error: null,
    deadLetter: null,
    alert: null,
    published: null,
    children: [],
    codeVersion: null,
    ...o,
  };
}

const err = (stage: string, asset?: string) => ({
  stage,
  code: 'BN_ERR_INPUT_BAD_VALUE',
  message: 'erp.xlsx, row 7: "vingt euros" is not a number',
  words: 'erp.xlsx, row 7: "vingt euros" is not a number',
  ...(asset ? { asset } : {}),
});

const snapshot = (runs: RunDetail[]): Snapshot => ({
  version: 'v',
  builtAt: '',
  partitions: [],
  runs,
  refused: [],
  unrecognisedUploads: [],
});

describe('assetHistory: failures beside the successes', () => {
  const s = snapshot([
    run('ok', '2026-01', { materializations: { erp_clean: mat('clean', 825) } }),
    // erp_clean's compute threw (a bad cell): nothing was made; the error names it.
    run('bad-cell', '2026-02', {
      status: 'failed',
      materializations: { web_clean: mat('clean') },
      error: err('clean', 'erp_clean'),
    }),
    // The stage failed before naming an asset (an outage): its assets not made are failures too.
    run('outage', '2026-03', { status: 'failed', error: err('clean') }),
    // Another asset failed: erp_clean was made and is not this run's failure.
    run('other', '2026-04', {
      status: 'failed',
      materializations: { erp_clean: mat('clean', 800) },
      error: err('clean', 'web_clean'),
    }),
    // A failure downstream of erp_clean never tried it again (re-execution: reused).
    run('reexec', '2026-05', {
      status: 'failed',
      materializations: { erp_clean: mat('reused') },
      error: err('clean'),
    }),
    // The failure is at merge: erp_clean (clean) was not made, and not tried by the failing stage.
    run('merge', '2026-06', { status: 'failed', error: err('merge') }),
  ]);

  it('lists a failed materialization with its error, and the successes, oldest month first', () => {
    const h = assetHistory(s, 'erp_clean', 'clean');
    expect(h.map((x) => [x.runId, x.status])).toEqual([
      ['ok', 'materialized'],
      ['bad-cell', 'failed'],
      ['outage', 'failed'],
      ['other', 'materialized'],
    ]);
    expect(h[1]).toMatchObject({
      rowCount: null,
      dataVersion: '',
      location: '',
      durationMs: 42,
      error: { asset: 'erp_clean', words: 'erp.xlsx, row 7: "vingt euros" is not a number' },
    });
    expect(h[0]).toMatchObject({ rowCount: 825, dataVersion: 'v-clean', error: null });
    expect(h[3]!.error).toBeNull();
  });

  it("without the asset's stage, only failures that name the asset count", () => {
    expect(assetHistory(s, 'erp_clean').map((x) => x.runId)).toEqual(['ok', 'bad-cell', 'other']);
  });
});
