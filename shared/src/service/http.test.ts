import { describe, expect, it } from 'vitest';
import { buildHttp, type HttpDeps } from './http.js';
import { createMetrics } from './metrics.js';
import { RunTracker } from './status.js';

function app(over: Partial<HttpDeps> = {}) {
  const metrics = createMetrics('merge');
  const tracker = new RunTracker();
  return {
    metrics,
    tracker,
    http: buildHttp({
      service: 'merge',
      version: '1.2.3',
      startedAt: Date.now() - 5000,
      readiness: async () => null,
      metrics,
      tracker,
      ...over,
    }),
  };
}

describe('service HTTP', () => {
  it('answers /healthz without configuration or environment', async () => {
    const { http } = app();
    const r = await http.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz 503 with the reason in words; the details (endpoints, names) only with the token', async () => {
    const notReady = async () => ({
      reason: 'object store unreachable',
      details: 'listing s3://bucket-x/_readyz/ failed: connect ECONNREFUSED 10.0.0.7:9000',
    });
    const open = app({ readiness: notReady });
    const r = await open.http.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ status: 'not ready', reason: 'object store unreachable' });
    const guarded = app({ readiness: notReady, statusToken: 'open-sesame' });
    expect((await guarded.http.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({
      status: 'not ready',
      reason: 'object store unreachable',
    });
    expect(
      (
        await guarded.http.inject({ method: 'GET', url: '/readyz', headers: { authorization: 'Bearer open-sesame' } })
      ).json(),
    ).toEqual({
      status: 'not ready',
      reason: 'object store unreachable',
      details: 'listing s3://bucket-x/_readyz/ failed: connect ECONNREFUSED 10.0.0.7:9000',
    });
    expect((await app().http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('answers /readyz in bounded time when a check hangs (a frozen store)', async () => {
    const { http } = app({ readiness: () => new Promise(() => {}), readinessTimeoutMs: 50 });
    const r = await http.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ status: 'not ready', reason: 'checks did not answer within 50 ms' });
  });

  it('fails /healthz when the service cannot work any more (a consumer stopped for good)', async () => {
    const { http } = app({ liveness: () => 'consumer of group bottleneck-merge stopped: The group is rebalancing' });
    const r = await http.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({
      status: 'dead',
      reason: 'consumer of group bottleneck-merge stopped: The group is rebalancing',
    });
  });

  it('shows recent runs and what is in flight on /status', async () => {
    const { http, tracker } = app();
    tracker.start('e1', 'run-1', '2026-11', 'validated');
    tracker.finish({
      runId: 'run-1',
      partition: '2026-11',
      eventId: 'e1',
      consumed: 'validated',
      emitted: ['merged'],
      outcome: 'ok',
      durationMs: 42,
    });
    tracker.start('e2', 'run-2', '2026-12', 'validated');
    const body = (await http.inject({ method: 'GET', url: '/status' })).json();
    expect(body).toMatchObject({
      service: 'merge',
      version: '1.2.3',
      inFlight: [{ eventId: 'e2', runId: 'run-2', partition: '2026-12', consumed: 'validated' }],
      recentRuns: [{ runId: 'run-1', emitted: ['merged'], outcome: 'ok', durationMs: 42 }],
    });
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
    expect(
      (await http.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode,
    ).toBe(401);
    expect(
      (await http.inject({ method: 'GET', url: '/status', headers: { authorization: 'Bearer open-sesame' } }))
        .statusCode,
    ).toBe(200);
    // The scheme is case-insensitive (RFC 9110); the token is not.
    expect(
      (await http.inject({ method: 'GET', url: '/status', headers: { authorization: 'bearer open-sesame' } }))
        .statusCode,
    ).toBe(200);
    expect(
      (await http.inject({ method: 'GET', url: '/status', headers: { authorization: 'BEARER open-sesame' } }))
        .statusCode,
    ).toBe(200);
    expect(
      (await http.inject({ method: 'GET', url: '/status', headers: { authorization: 'Bearer OPEN-SESAME' } }))
        .statusCode,
    ).toBe(401);
    expect(
      (await http.inject({ method: 'GET', url: '/status', headers: { authorization: 'Basic open-sesame' } }))
        .statusCode,
    ).toBe(401);
    expect((await http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('logs no line per request, and starts without a fastify deprecation warning', async () => {
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const lines: string[] = [];
    try {
      const { http } = app({
        logger: {
          level: 'info',
          stream: {
            write: (l: string) => {
              lines.push(l);
            },
          },
        },
      });
      expect((await http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      // process.emitWarning delivers on a later tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => String(w.code).startsWith('FSTDEP')).map((w) => `${w.code} ${w.message}`)).toEqual(
      [],
    );
    expect(lines.filter((l) => /incoming request|request completed/.test(l))).toEqual([]);
  });

  it('is read-only', async () => {
    const { http } = app();
    expect((await http.inject({ method: 'POST', url: '/status' })).statusCode).toBe(404);
  });
});
