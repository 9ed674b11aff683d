import type { CheckResult, Materialization } from '@bottleneck/shared';
import { runLink } from '@bottleneck/shared/links';
import type { ProgressListener } from '@bottleneck/shared/stage/context';
import type { RunSummary } from './embedded.js';

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} kB`;
}

function brief(meta: Record<string, unknown>): string {
  const s = JSON.stringify(meta);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

/** Progress lines for a person: one per asset materialized, one per failed check, one per stage. */
export function humanProgress(write: (s: string) => void): ProgressListener {
  return {
    onAsset({ stage, asset, materialization: m }: { stage: string; asset: string; materialization: Materialization }) {
      const rows = m.metadata.rowCount !== undefined ? `${m.metadata.rowCount} rows` : kb(m.metadata.bytes ?? 0);
      write(`  ✓ ${pad(stage, 10)} ${pad(asset, 22)} ${lpad(rows, 12)} ${lpad(`${m.metadata.durationMs} ms`, 8)}\n`);
    },
    onCheck(c: CheckResult) {
      if (c.passed) return;
      const tag = c.severity === 'ERROR' ? '✗ check failed' : '! warning     ';
      write(`  ${tag} ${c.asset}.${c.check}: ${c.message ?? `${c.description} failed ${brief(c.metadata)}`}\n`);
    },
    onStage({ stage, consumed, emitted, durationMs }) {
      write(
        `  → ${pad(stage, 10)} handled ${consumed}, emitted ${emitted.join(', ') || 'nothing'} (${durationMs} ms)\n`,
      );
    },
  };
}

/** The summary table at the end of a run. */
export function humanSummary(s: RunSummary, consoleUrl?: string): string {
  const lines: string[] = [''];
  if (s.status === 'succeeded') {
    lines.push(`Run ${s.runId} for ${s.partition} succeeded in ${s.durationMs} ms.`, '');
    lines.push(`  ${pad('asset', 24)} ${lpad('rows', 8)}`);
    for (const [k, n] of Object.entries(s.rowCounts)) lines.push(`  ${pad(k, 24)} ${lpad(String(n), 8)}`);
    lines.push('', `  ${pad('total revenue', 24)} ${lpad(s.totalRevenue ?? '-', 12)}`);
    lines.push(`  ${pad('premium wines', 24)} ${lpad(String(s.premium), 12)}`);
    lines.push(`  ${pad('ordinary wines', 24)} ${lpad(String(s.ordinary), 12)}`);
    const warns = s.checks.filter((c) => !c.passed && c.severity === 'WARN');
    lines.push(
      `  ${pad('checks', 24)} ${lpad(`${s.checks.filter((c) => c.passed).length} passed, ${warns.length} warnings`, 12)}`,
    );
    lines.push('', `Outputs in ${s.extractsDir}:`);
    for (const o of s.outputs) lines.push(`  ${pad(o.name, 30)} ${lpad(kb(o.bytes), 10)}`);
  } else {
    const e = s.error;
    lines.push(
      `Run ${s.runId} for ${s.partition} FAILED at stage ${e?.stage ?? '?'}${e?.asset ? ` (asset ${e.asset})` : ''}: ${e?.code ?? ''}`,
    );
    lines.push(`  ${e?.message ?? ''}`, '');
    if (e?.code === 'BN_ERR_INPUT_MISSING' && typeof e.location?.file === 'string')
      lines.push(`Put ${e.location.file} in the --input folder and run again.`, '');
    lines.push('Nothing was published for this run.');
    if (s.deadLetter) lines.push(`Dead-letter record: ${s.deadLetter}`);
    if (s.alert) lines.push(`Alert (SendGrid payload): ${s.alert}`);
    if (consoleUrl) lines.push(`In the console: ${runLink(consoleUrl, s.runId)}`);
  }
  return lines.join('\n') + '\n';
}

/** The machine-readable result: one JSON object, money as a string with two decimals. */
export function jsonSummary(s: RunSummary, consoleUrl?: string): string {
  return (
    JSON.stringify({
      status: s.status,
      runId: s.runId,
      partition: s.partition,
      rowCounts: s.rowCounts,
      totalRevenue: s.totalRevenue,
      premium: s.premium,
      ordinary: s.ordinary,
      checks: s.checks.map((c) => ({
        asset: c.asset,
        check: c.check,
        passed: c.passed,
        severity: c.severity,
        metadata: c.metadata,
      })),
      outputs: s.outputs,
      deadLetter: s.deadLetter,
      alert: s.alert,
      error: s.error,
      ...(consoleUrl && s.status !== 'succeeded' ? { link: runLink(consoleUrl, s.runId) } : {}),
      durationMs: s.durationMs,
    }) + '\n'
  );
}
