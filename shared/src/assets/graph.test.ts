import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@bottleneck/shared/events/index';
import { EXPECTATION_CHECK } from '@bottleneck/shared/stage/checks';
import {
  ASSETS,
  STAGES,
  STAGE_DEFINITIONS,
  STAGE_HANDLERS,
  assetDefinition,
  assetsOfStage,
  checkSpec,
  declaredKeys,
  toMermaid,
  topologicalOrder,
} from '@bottleneck/shared/assets/graph';
import { ASSET_STAGE, STAGE_NAMES, consumedEvents, type AssetKey } from '@bottleneck/shared/assets/keys';

const spec = (key: string, deps: string[] = []) => ({ key, deps });

describe('the asset graph', () => {
  it('defines every asset key exactly once, in the stage ASSET_STAGE gives it', () => {
    const { defined, named } = declaredKeys();
    expect(new Set(defined).size).toBe(defined.length);
    expect([...defined].sort()).toEqual([...named].sort());
    for (const s of STAGE_DEFINITIONS) for (const a of s.assets) expect(a.stage, a.key).toBe(ASSET_STAGE[a.key]);
  });

  it('has no cycle: topologicalOrder puts every asset after its dependencies', () => {
    const order = topologicalOrder(ASSETS).map((a) => a.key);
    for (const a of ASSETS)
      for (const d of a.deps) expect(order.indexOf(d), `${d} before ${a.key}`).toBeLessThan(order.indexOf(a.key));
  });

  it('topologicalOrder orders and checks the graph it is given, and reports a cycle or an unknown asset', () => {
    expect(topologicalOrder([spec('b', ['a']), spec('a')]).map((a) => a.key)).toEqual(['a', 'b']);
    expect(() => topologicalOrder([spec('a', ['b']), spec('b', ['a'])])).toThrow(
      expect.objectContaining({ message: 'cycle in the asset graph: a -> b -> a' }),
    );
    expect(() => topologicalOrder([spec('a', ['x'])])).toThrow(expect.objectContaining({ message: 'unknown asset x' }));
  });

  it('puts each asset in a stage at or after the stages of what it and its checks read', () => {
    const rank = (k: AssetKey) => STAGE_NAMES.indexOf(ASSET_STAGE[k]);
    for (const a of ASSETS) {
      for (const d of [...a.deps, ...a.checks.flatMap((c) => c.deps)])
        expect(rank(d), `${a.key} reads ${d}`).toBeLessThanOrEqual(rank(a.key));
    }
  });

  it('never makes a check read an asset downstream of its own (it would wait for itself)', () => {
    const downstream = (k: AssetKey): Set<AssetKey> => {
      const out = new Set<AssetKey>();
      for (const a of ASSETS)
        if (a.deps.includes(k)) {
          out.add(a.key);
          for (const x of downstream(a.key)) out.add(x);
        }
      return out;
    };
    for (const a of ASSETS)
      for (const c of a.checks)
        for (const d of c.deps) expect(downstream(a.key).has(d), `${a.key}.${c.name} reads ${d}`).toBe(false);
  });

  it("derives each stage's subscription from where its upstream assets are materialized", () => {
    const consumes = Object.fromEntries(STAGES.map((s) => [s.stage, s.consumes]));
    expect(consumes).toEqual({
      ingest: ['trigger'],
      clean: ['file-arrived'],
      merge: ['validated'],
      analytics: ['merged'],
      publisher: ['analysed'],
      alerter: ['failed'],
    });
    for (const h of STAGE_HANDLERS) expect(h.consumes, h.stage).toEqual(consumes[h.stage]);
    expect(() => consumedEvents('merge', ['revenue_report'])).toThrow(
      expect.objectContaining({ message: 'stage merge reads assets of stage analytics, which runs after it' }),
    );
  });

  it('wires the stages by events: every event consumed is emitted by a stage (but trigger and failed, which come from outside)', () => {
    const emitted = new Set(STAGES.flatMap((s) => s.emits));
    for (const s of STAGES)
      for (const t of s.consumes)
        if (t !== 'trigger' && t !== 'failed') expect(emitted.has(t), `${s.stage} consumes ${t}`).toBe(true);
    const known = new Set<string>(EVENT_TYPES);
    for (const s of STAGES) for (const t of [...s.consumes, ...s.emits]) expect(known.has(t)).toBe(true);
    expect(STAGES.find((s) => s.stage === 'clean')!.emits).toEqual(['cleaned', 'validated']);
  });

  it('gives each stage but the alerter its assets', () => {
    for (const stage of STAGE_NAMES) {
      if (stage === 'alerter') expect(assetsOfStage(stage)).toEqual([]);
      else expect(assetsOfStage(stage).length, stage).toBeGreaterThan(0);
    }
  });

  it('names each materialized file once and each published name once; a published table says how it is exported', () => {
    const files = ASSETS.map((a) => a.file);
    expect(new Set(files).size).toBe(files.length);
    const published = ASSETS.flatMap((a) => (a.publishAs ? [a.publishAs] : []));
    expect(new Set(published).size).toBe(published.length);
    for (const a of ASSETS) if (a.kind === 'table' && a.publishAs) expect(a.publishSql, a.key).toBeTruthy();
    // The publisher publishes exactly the assets that have a published name.
    expect([...assetDefinition('extracts').deps].sort()).toEqual(
      ASSETS.filter((a) => a.publishAs)
        .map((a) => a.key)
        .sort(),
    );
  });

  it("keeps each check's SQL next to its asset, and no check SQL without its check", () => {
    for (const a of ASSETS) {
      for (const c of a.checks)
        if (c.sql)
          expect(existsSync(fileURLToPath(new URL(`${c.sql}.sql`, a.sqlDir))), `${a.key}.${c.name}: ${c.sql}.sql`).toBe(
            true,
          );
      const dir = fileURLToPath(a.sqlDir);
      const declared = new Set(
        ASSETS.filter((x) => fileURLToPath(x.sqlDir) === dir).flatMap((x) =>
          x.checks.flatMap((c) => (c.sql ? [`${c.sql}.sql`] : [])),
        ),
      );
      for (const f of readdirSync(dir).filter((n) => n.startsWith('check_') && n.endsWith('.sql')))
        expect(declared.has(f), `${dir}${f} belongs to no check`).toBe(true);
    }
  });

  it('checkSpec finds asset checks, cross-asset checks and the expectation check, and refuses unknown ones', () => {
    expect(checkSpec('erp_clean', 'product_id_unique')).toMatchObject({ severity: 'ERROR', blocking: true });
    expect(checkSpec('erp_clean', 'price_not_negative')).toMatchObject({ severity: 'WARN', blocking: false });
    expect(checkSpec('liaison_clean', 'id_web_matches_web')).toMatchObject({ severity: 'WARN', blocking: false });
    expect(checkSpec('premium_wines', 'matches_expectations')).toBe(EXPECTATION_CHECK);
    expect(() => checkSpec('erp_clean', 'nope')).toThrow(
      expect.objectContaining({ message: 'unknown check erp_clean.nope' }),
    );
    expect(() => assetDefinition('nope' as AssetKey)).toThrow(
      expect.objectContaining({ message: 'unknown asset nope' }),
    );
  });

  it('gives every blocking check severity ERROR (a blocking WARN would never block)', () => {
    for (const c of [...ASSETS.flatMap((a) => a.checks), EXPECTATION_CHECK])
      if (c.blocking) expect(c.severity, c.name).toBe('ERROR');
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
    const edges = lines
      .filter((l) => l.includes('-->'))
      .map((l) => l.trim())
      .sort();
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
