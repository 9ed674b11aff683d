import { describe, expect, it } from 'vitest';
import { buildHttp, type HttpDeps } from './http.js';
import { createMetrics } from './metrics.js';
import { RunTracker } from './status.js';

function app(over: Partial<HttpDeps> = {}) {
  const metrics = createMetrics('merge');
  const tracker = new RunTracker();
  return { metrics, tracker, http: buildHttp({ service: 'merge', version: '1.2.3', startedAt: Date.now() - 5000, readiness: async () => null, metrics, tracker, ...over }) };
}

describe('service HTTP', () => {
  it('answers /healthz without configuration or environment', async () => {
    const { http } = app();
    const r = await http.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz 503 with the reason when not ready', async () => {
    const { http } = app({ readiness: async () => 'kafka: consumer of group bottleneck-merge has no partition assigned yet' });
    const r = await http.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ status: 'not ready', reason: 'kafka: consumer of group bottleneck-merge has no partition assigned yet' });
    expect((await app().http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('shows recent runs and what is in flight on /status', async () => {
    const { http, tracker } = app();
    tracker.start('e1', 'run-1', '2026-11', 'validated');
    tracker.finish({ runId: 'run-1', partition: '2026-11', eventId: 'e1', consumed: 'validated', emitted: ['merged'], outcome: 'ok', durationMs: 42 });
    tracker.start('e2', 'run-2', '2026-12', 'validated');
    const body = (await http.inject({ method: 'GET', url: '/status' })).json();
    expect(body).toMatchObject({ service: 'merge', version: '1.2.3', inFlight: [{ eventId: 'e2', runId: 'run-2', partition: '2026-12', consumed: 'validated' }], recentRuns: [{ runId: 'run-1', emitted: ['merged'], outcome: 'ok', durationMs: 42 }] });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(4);
  });

  it('serves Prometheus metrics', async () => {
    const { http, metrics } = app();
    metrics.consumed.inc({ type: 'validated', outcome: 'ok' });
    metrics.duration.observe({ type: 'validated' }, 0.2);
    const r = await http.inject({ method: 'GET', url: '/metrics' });
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toContain('bn_events_consumed_total{type="validated",outcome="ok",service="merge"} 1');
    expect(r.body).toContain('bn_handler_duration_seconds_bucket');
    expect(r.body).toContain('# TYPE bn_consumer_lag gauge');
  });

  it('requires the bearer token on /status and /metrics when one is set, not on health', async () => {
    const { http } = app({ statusToken: 'open-sesame' });
    expect((await http.inject({ method: 'GET', url: '/status' })).statusCode).toBe(401);
    expect((await http.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await http.inject({ method: 'GET', url: '/status', headers: { authorization: 'Bearer open-sesame' } })).statusCode).toBe(200);
    expect((await http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('logs no line per request, and starts without a fastify deprecation warning', async () => {
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const lines: string[] = [];
    try {
      const { http } = app({ logger: { level: 'info', stream: { write: (l: string) => { lines.push(l); } } } });
      expect((await http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      // process.emitWarning delivers on a later tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => String(w.code).startsWith('FSTDEP')).map((w) => `${w.code} ${w.message}`)).toEqual([]);
    expect(lines.filter((l) => /incoming request|request completed/.test(l))).toEqual([]);
  });

  it('is read-only', async () => {
    const { http } = app();
    expect((await http.inject({ method: 'POST', url: '/status' })).statusCode).toBe(404);
  });
});
