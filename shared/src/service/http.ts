import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';
import type { RunTracker } from './status.js';

export interface HttpDeps {
  service: string;
  version: string;
  startedAt: number;
  /** null when ready, else the reason. */
  readiness: () => Promise<string | null>;
  metrics: Metrics;
  tracker: RunTracker;
  /** Extra status fields (schedule, cursor...). */
  extraStatus?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  statusToken?: string;
  /** pino options or instance; false for tests. */
  logger?: object | boolean;
}

function authorized(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(String(req.headers.authorization ?? ''));
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The HTTP face of a service: /healthz (alive), /readyz (connected to Kafka with partitions
 * assigned and the store reachable, else 503 with the reason), /metrics (Prometheus), /status
 * (recent runs, in flight). Read-only; /status and /metrics may require a bearer token; health
 * output shows no configuration.
 */
export function buildHttp(d: HttpDeps): FastifyInstance {
  // Probes every few seconds must not log a line each. Through a LogController: the top-level
  // disableRequestLogging option is deprecated (FSTDEP023, a warning at every start).
  const app = Fastify({ logger: d.logger ?? false, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    let reason: string | null;
    try {
      reason = await d.readiness();
    } catch (e) {
      reason = (e as Error).message;
    }
    if (reason) return reply.code(503).send({ status: 'not ready', reason });
    return { status: 'ready' };
  });
  app.get('/metrics', async (req, reply) => {
    if (!authorized(req, d.statusToken)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' });
    return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });
  app.get('/status', async (req, reply) => {
    if (!authorized(req, d.statusToken)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' });
    const snap = d.tracker.snapshot();
    return {
      service: d.service,
      version: d.version,
      uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
      inFlight: snap.inFlight,
      recentRuns: snap.recent,
      ...(d.extraStatus ? await d.extraStatus() : {}),
    };
  });
  return app;
}
