import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../events/index.js';
import {
  ASSETS, EXPECTATION_CHECK, GATE_CHECKS, STAGES, assetSpec, assetsOfStage, checkSpec, toMermaid, topologicalOrder, type AssetSpec,
} from './graph.js';

const spec = (key: string, deps: string[] = []): AssetSpec => ({ key, stage: 'clean', deps, description: key, file: `${key}.parquet`, checks: [] });

describe('the asset graph', () => {
  it('declares each asset once, and each dependency is a declared asset', () => {
    const keys = ASSETS.map((a) => a.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const a of ASSETS) for (const d of a.deps) expect(keys, `${a.key} depends on ${d}`).toContain(d);
  });

  it('has no cycle: topologicalOrder puts every asset after its dependencies', () => {
    const order = topologicalOrder().map((a) => a.key);
    expect([...order].sort()).toEqual(ASSETS.map((a) => a.key).sort());
    for (const a of ASSETS) for (const d of a.deps) expect(order.indexOf(d), `${d} before ${a.key}`).toBeLessThan(order.indexOf(a.key));
  });

  it('topologicalOrder keeps the declared order where dependencies allow and reports a cycle', () => {
    expect(topologicalOrder([assetSpec('erp_clean'), assetSpec('raw_erp')]).map((a) => a.key)).toEqual(['raw_erp', 'erp_clean']);
    expect(() => topologicalOrder([{ ...assetSpec('raw_erp'), deps: ['erp_clean'] }, assetSpec('erp_clean')])).toThrow(expect.objectContaining({ message: 'cycle in the asset graph: raw_erp -> erp_clean -> raw_erp' }));
  });

  it('topologicalOrder orders and checks the graph it is given, not the module\'s', () => {
    expect(topologicalOrder([spec('b', ['a']), spec('a')]).map((a) => a.key)).toEqual(['a', 'b']);
    expect(() => topologicalOrder([spec('a', ['b']), spec('b', ['a'])])).toThrow(expect.objectContaining({ message: 'cycle in the asset graph: a -> b -> a' }));
  });

  it('gives each stage of STAGES its assets, except the alerter, and no asset to an unknown stage', () => {
    for (const { stage } of STAGES) {
      if (stage === 'alerter') expect(assetsOfStage(stage)).toEqual([]);
      else expect(assetsOfStage(stage).length, stage).toBeGreaterThan(0);
    }
    const stages = new Set(STAGES.map((s) => s.stage));
    for (const a of ASSETS) expect(stages.has(a.stage), a.key).toBe(true);
  });

  it('puts each asset in a stage at or after the stages of its dependencies', () => {
    const rank = new Map(STAGES.map((s, i) => [s.stage, i]));
    for (const a of ASSETS) for (const d of a.deps) expect(rank.get(assetSpec(d).stage)!).toBeLessThanOrEqual(rank.get(a.stage)!);
  });

  it('wires the stages by events: every event consumed is emitted by a stage (but trigger and failed, which come from outside)', () => {
    const emitted = new Set(STAGES.flatMap((s) => s.emits));
    for (const s of STAGES) for (const t of s.consumes) if (t !== 'trigger' && t !== 'failed') expect(emitted.has(t), `${s.stage} consumes ${t}`).toBe(true);
    const known = new Set<string>(EVENT_TYPES);
    for (const s of STAGES) for (const t of [...s.consumes, ...s.emits]) expect(known.has(t)).toBe(true);
  });

  it('names each materialized file once, and each published name once', () => {
    const files = ASSETS.map((a) => a.file);
    expect(new Set(files).size).toBe(files.length);
    const published = ASSETS.flatMap((a) => (a.publishAs ? [a.publishAs] : []));
    expect(new Set(published).size).toBe(published.length);
  });

  it('checkSpec finds asset checks, gate checks and the expectation check, and refuses unknown ones', () => {
    expect(checkSpec('erp_clean', 'product_id_unique')).toMatchObject({ severity: 'ERROR', blocking: true });
    expect(checkSpec('erp_clean', 'price_not_negative')).toMatchObject({ severity: 'WARN', blocking: false });
    expect(checkSpec('liaison_clean', GATE_CHECKS[0]!.name)).toBe(GATE_CHECKS[0]);
    expect(checkSpec('premium_wines', 'matches_expectations')).toBe(EXPECTATION_CHECK);
    expect(() => checkSpec('erp_clean', 'nope')).toThrow(expect.objectContaining({ message: 'unknown check erp_clean.nope' }));
    expect(() => assetSpec('nope')).toThrow(expect.objectContaining({ message: 'unknown asset nope' }));
  });

  it('gives every blocking check severity ERROR (a blocking WARN would never block)', () => {
    for (const c of [...ASSETS.flatMap((a) => a.checks), ...GATE_CHECKS, EXPECTATION_CHECK]) {
      if (c.blocking) expect(c.severity, c.name).toBe('ERROR');
    }
  });
});

describe('toMermaid', () => {
  const chart = toMermaid();
  const lines = chart.split('\n');

  it('is a left-to-right flowchart ending with a newline', () => {
    expect(lines[0]).toBe('flowchart LR');
    expect(chart.endsWith('\n')).toBe(true);
  });

  it('draws every dependency as an edge, and no other edge', () => {
    const edges = lines.filter((l) => l.includes('-->')).map((l) => l.trim()).sort();
    expect(edges).toEqual(ASSETS.flatMap((a) => a.deps.map((d) => `${d} --> ${a.key}`)).sort());
  });

  it('puts every asset in the subgraph of its stage', () => {
    for (const a of ASSETS) {
      const open = lines.indexOf(`  subgraph ${a.stage}`);
      const close = lines.indexOf('  end', open);
      const at = lines.indexOf(`    ${a.key}[${a.key}]`);
      expect(open, a.stage).toBeGreaterThanOrEqual(0);
      expect(at, a.key).toBeGreaterThan(open);
      expect(at, a.key).toBeLessThan(close);
    }
    expect(chart).not.toContain('subgraph alerter');
  });
});
