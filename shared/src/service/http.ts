import { timingSafeEqual } from 'node:crypto';
import { errorMessage } from '../errors/index.js';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';
import type { RunTracker } from './status.js';

export interface HttpDeps {
  service: string;
  version: string;
  startedAt: number;
  /** null when ready, else why not. */
  readiness: () => Promise<NotReady | null>;
  /** How long /readyz waits for its checks (default READINESS_TIMEOUT_MS). */
  readinessTimeoutMs?: number;
  /** null while the service can work, else why it cannot (then /healthz fails). */
  liveness?: () => string | null;
  metrics: Metrics;
  tracker: RunTracker;
  /** Extra status fields (schedule, cursor...). */
  extraStatus?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  statusToken?: string;
  /** pino options or instance; false for tests. */
  logger?: object | boolean;
}

/** Whether the request carries the token (`Authorization: Bearer <token>`, the scheme in any case, RFC 9110). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')?.[1];
  if (!given) return false;
  const got = Buffer.from(given);
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

function authorized(req: FastifyRequest, token: string | undefined): boolean {
  return !token || bearerMatches(req.headers.authorization, token);
}

/** /readyz answers within this, whatever the checks behind it do (a frozen store, a broker gone). */
export const READINESS_TIMEOUT_MS = 2_000;

/** A readiness problem: a short reason anyone may see, and the details (endpoints, names) only a token holder sees. */
export interface NotReady {
  reason: string;
  details?: string;
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
  // Liveness: fails when the service cannot do its work any more and only a restart helps (a
  // consumer that stopped for good), so that an orchestrator restarts it.
  app.get('/healthz', async (_req, reply) => {
    const dead = d.liveness?.() ?? null;
    if (dead) return reply.code(503).send({ status: 'dead', reason: dead });
    return { status: 'ok' };
  });
  // Readiness: bounded in time; the reason in words for anyone, the details with the token only.
  const limit = d.readinessTimeoutMs ?? READINESS_TIMEOUT_MS;
  app.get('/readyz', async (req, reply) => {
    let problem: NotReady | null;
    let timer: NodeJS.Timeout | undefined;
    try {
      problem = await Promise.race([
        d.readiness(),
        new Promise<NotReady>((resolve) => {
          timer = setTimeout(() => resolve({ reason: `checks did not answer within ${limit} ms` }), limit);
        }),
      ]);
    } catch (e) {
      problem = { reason: 'readiness check failed', details: errorMessage(e) };
    } finally {
      clearTimeout(timer);
    }
    if (!problem) return { status: 'ready' };
    const showDetails = Boolean(d.statusToken) && authorized(req, d.statusToken);
    return reply.code(503).send({
      status: 'not ready',
      reason: problem.reason,
      ...(showDetails && problem.details ? { details: problem.details } : {}),
    });
  });
  app.get('/metrics', async (req, reply) => {
    if (!authorized(req, d.statusToken))
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' });
    return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });
  app.get('/status', async (req, reply) => {
    if (!authorized(req, d.statusToken))
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' });
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
