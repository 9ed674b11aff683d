import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { errorMessage } from '@bottleneck/shared/errors/index';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { bearerMatches } from '@bottleneck/shared/service/http';
import {
  Catalog,
  assetHistory,
  summarize,
  type GraphSpec,
  type PartitionInfo,
  type Snapshot,
} from '@bottleneck/shared/catalog/index';
import { ActionRefused, Actions, MAX_BACKFILL_MONTHS } from '@bottleneck/shared/catalog/actions';
import { offerFor } from '@bottleneck/shared/catalog/advice';
import { pendingActions } from '@bottleneck/shared/catalog/outbox';
import {
  dismissedMonths,
  dismissMonth,
  readDismissals,
  restoreMonth,
  type Dismissal,
} from '@bottleneck/shared/catalog/dismissed';
import { registerTruthRoutes } from './routes-truth.js';
import { LOG_LEVELS, LOG_STAGES, readRunLogs, type LogLevel } from '@bottleneck/shared/runs/logs';
import { registerPageRoutes } from './routes-pages.js';

/**
 * The console: a JSON API and a web page over the catalog (the store's run records, claims,
 * pointers, dead-letter records and alerts) and the asset graph. Actions publish trigger events on
 * the bus. Stateless: any number of replicas answer the same, after any restart.
 */
export interface ConsoleOptions {
  store: ObjectStore;
  graph: GraphSpec;
  /** Built on the first action (the embedded console starts its stages only when asked to run one). */
  actions: () => Promise<Actions>;
  /** Every /api call needs `Authorization: Bearer <token>` when set. */
  token?: string;
  /** /metrics needs this bearer token when set (BN_STATUS_TOKEN, as the other services). */
  statusToken?: string;
  /** The catalog is rebuilt from the store at most this often, ms. */
  refreshMs?: number;
  /** null when ready, else why not. */
  readiness?: () => Promise<string | null>;
  logger?: object | boolean;
  now?: () => Date;
  /**
   * The host names this console answers to (Host header, and the Origin of every POST): anything
   * else is refused (403), so a page on another site cannot reach it through DNS rebinding. Unset:
   * any Host (the service behind its own proxy), and POSTs only from this console's own origin.
   */
  hosts?: readonly string[];
  /** How long /readyz waits for its probe (the store) before answering not ready, ms. */
  probeMs?: number;
  /** BN_FILES_DUE_DAY: months whose files are missing past that day of the following month are `late`. */
  filesDueDay?: number;
}

/** Loopback names and addresses: a console on these is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host name of a Host header or an origin's authority ("[::1]:8090" -> "::1"). */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  return a.replace(/:\d+$/, '');
}

const PUBLIC = fileURLToPath(new URL('../public/', import.meta.url));
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};
const RUN_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The catalog's snapshot with the console's own records (dismissed months), and their joint version. */
type View = Snapshot & { dismissed: Map<string, Dismissal> };

/** The snapshot, rebuilt at most every refreshMs; concurrent callers share one rebuild. */
class SnapshotCache {
  private at = 0;
  private value: View | null = null;
  private pending: Promise<View> | null = null;
  constructor(
    private readonly catalog: Catalog,
    private readonly store: ObjectStore,
    private readonly refreshMs: number,
  ) {}
  get(): Promise<View> {
    if (this.value && Date.now() - this.at < this.refreshMs) return Promise.resolve(this.value);
    this.pending ??= Promise.all([this.catalog.snapshot(), readDismissals(this.store)])
      .then(([snap, d]) => {
        const s: View = { ...snap, version: `${snap.version}-${d.version}`, dismissed: dismissedMonths(d.records) };
        this.value = s;
        this.at = Date.now();
        return s;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }
  /** The last snapshot at once, even if older than refreshMs (a rebuild starts behind it); the first one is awaited. */
  peek(): Promise<View> {
    // After an action of this console (invalidate), its effect must show: rebuild.
    if (!this.value || this.at === 0) return this.get();
    if (Date.now() - this.at >= this.refreshMs) void this.get().catch(() => undefined);
    return Promise.resolve(this.value);
  }
  /** After an action, or before one: the next snapshot is rebuilt, from the run records themselves. */
  invalidate(): void {
    this.at = 0;
    this.catalog.checkRecords();
  }
}

/** Metrics an alert rule can use: per month, time since its last publish, and failed checks by severity. */
function consoleMetrics(cache: SnapshotCache, now: () => Date) {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'console' });
  new Gauge({
    name: 'bn_month_seconds_since_publish',
    help: 'seconds since the month was last published (absent: never published)',
    labelNames: ['partition'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await cache.get();
      for (const p of s.partitions)
        if (p.published)
          this.set(
            { partition: p.partition },
            Math.max(0, (now().getTime() - Date.parse(p.published.publishedAt)) / 1000),
          );
    },
  });
  new Gauge({
    name: 'bn_month_failed_checks',
    help: "failed checks of the month's latest run, by severity",
    labelNames: ['partition', 'severity'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await cache.get();
      for (const p of s.partitions)
        for (const sev of ['WARN', 'ERROR'] as const)
          this.set({ partition: p.partition, severity: sev }, p.failedChecks[sev]);
    },
  });
  new Gauge({
    name: 'bn_month_status',
    help: "the month's status (1 for its current status)",
    labelNames: ['partition', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await cache.get();
      for (const p of s.partitions) this.set({ partition: p.partition, status: p.status }, 1);
    },
  });
  new Gauge({
    name: 'bn_months_late',
    help: 'months whose files are missing past BN_FILES_DUE_DAY of the following month (0 when it is not set)',
    registers: [registry],
    async collect() {
      const s = await cache.get();
      this.set(s.partitions.filter((p) => p.status === 'late').length);
    },
  });
  return registry;
}

const bad = (reply: FastifyReply, message: string) => reply.code(400).send({ error: 'bad request', message });

/**
 * Response bodies built once per snapshot (a snapshot never changes; a new one has a new version):
 * the JSON text by route and query, so a poll, a reload or a second reader costs no rebuilding and
 * no serializing. Only the current version's bodies are kept, at most `max` of them.
 */
export class BodyCache {
  private version = '';
  private readonly bodies = new Map<string, string>();
  constructor(private readonly max = 256) {}
  get(version: string, key: string, build: () => unknown): string {
    if (version !== this.version) {
      this.bodies.clear();
      this.version = version;
    }
    let b = this.bodies.get(key);
    if (b === undefined) {
      b = JSON.stringify(build());
      if (this.bodies.size < this.max) this.bodies.set(key, b);
    }
    return b;
  }
}

/**
 * A month as the page draws it (the grid, the graph, the plots, the month's actions): its latest
 * run by id and status only, no file list, no data versions. `/api/partitions` has the whole month.
 */
function pageMonth(p: PartitionInfo & { offer: unknown; dismissed?: unknown }) {
  const { latestRun, incoming: _i, assets, ...rest } = p;
  return {
    ...rest,
    latestRun: latestRun ? { runId: latestRun.runId, status: latestRun.status } : null,
    assets: Object.fromEntries(Object.entries(assets).map(([k, { dataVersion: _d, ...a }]) => [k, a] as const)),
  };
}

/** The console's HTTP server (not listening: the caller listens, tests inject). */
export function buildConsole(o: ConsoleOptions): FastifyInstance {
  const now = o.now ?? (() => new Date());
  const catalog = new Catalog(o.store, o.graph, now, o.filesDueDay ? { filesDueDay: o.filesDueDay } : {});
  const cache = new SnapshotCache(catalog, o.store, o.refreshMs ?? 1_000);
  const hosts = o.hosts ? new Set(o.hosts.map((h) => hostName(h))) : null;
  const codeVersions = o.graph.codeVersions;
  const registry = consoleMetrics(cache, now);
  // Unknown fields are refused, not silently dropped (Fastify's default removes them).
  const app = Fastify({
    logger: o.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16_384,
    ajv: { customOptions: { removeAdditional: false } },
  });
  const assetKeys = new Set(o.graph.assets.map((a) => a.key));
  const deny = (reply: FastifyReply) =>
    reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({ error: 'unauthorized', message: 'send Authorization: Bearer <BN_CONSOLE_TOKEN>' });

  const forbidden = (reply: FastifyReply, message: string) => reply.code(403).send({ error: 'forbidden', message });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // DNS rebinding: a name that resolves here but is not one of ours is another site's page.
    const host = req.headers.host ?? '';
    if (hosts && !hosts.has(hostName(host)))
      return forbidden(
        reply,
        `Host ${JSON.stringify(host.slice(0, 100))} is not a name this console serves (${[...hosts].join(', ')}): open it by one of those, or add the name to BN_CONSOLE_HOSTS`,
      );
    // Cross-site requests: a browser says where a POST comes from; only this console's own page may act.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      const site = req.headers['sec-fetch-site'];
      let from: string | null;
      if (origin !== undefined) {
        try {
          from = origin === 'null' ? null : new URL(origin).host;
        } catch {
          from = null;
        }
        if (from === null || from.toLowerCase() !== host.toLowerCase() || (hosts && !hosts.has(hostName(from))))
          return forbidden(
            reply,
            `a ${req.method} from ${JSON.stringify(origin.slice(0, 100))} is refused: actions are taken from this console's own page only`,
          );
      } else if (site === 'cross-site' || site === 'same-site')
        return forbidden(
          reply,
          `a cross-site ${req.method} is refused: actions are taken from this console's own page only`,
        );
    }
    if (req.url.startsWith('/api/') || req.url === '/api') {
      if (o.token && !bearerMatches(req.headers.authorization, o.token)) return deny(reply);
      void reply.header('cache-control', 'no-store');
    }
    return undefined;
  });
  app.setErrorHandler((e: Error & { statusCode?: number }, _req, reply) => {
    if (e instanceof ActionRefused)
      return reply.code(e.status).send({ error: e.status === 404 ? 'not found' : 'conflict', message: e.message });
    if (e instanceof RangeError) return bad(reply, e.message);
    if (e.statusCode && e.statusCode < 500)
      return reply.code(e.statusCode).send({ error: 'bad request', message: e.message });
    app.log.error({ err: errorMessage(e) }, 'console error');
    return reply.code(500).send({ error: 'internal error', message: errorMessage(e) });
  });

  // The page: three static files, no build step, nothing from elsewhere (CSP says so), no secret in them.
  // Read once and revalidated by ETag: a reload costs a 304, not the file.
  const files = new Map<string, Promise<{ body: Buffer; etag: string }>>();
  const staticFile = (file: string) => {
    let f = files.get(file);
    if (!f) {
      f = readFile(PUBLIC + file).then((body) => ({
        body,
        etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`,
      }));
      f.catch(() => files.delete(file));
      files.set(file, f);
    }
    return f;
  };
  for (const [route, { file, type }] of Object.entries(STATIC)) {
    app.get(route, async (req, reply) => {
      const { body, etag } = await staticFile(file);
      void reply.header('etag', etag).header('cache-control', 'no-cache');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply
        .type(type)
        .header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(body);
    });
  }
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/healthz', async () => ({ status: 'ok' }));
  // /readyz answers within probeMs whatever the store does: one probe at a time, its last answer
  // cached; a probe that has not answered in time is reported as such (and left to finish).
  const probeMs = o.probeMs ?? 1_500;
  let probe: Promise<string | null> | null = null;
  let lastProbe: { at: number; why: string | null } | null = null;
  const runProbe = (): Promise<string | null> => {
    probe ??= (async () => {
      try {
        return o.readiness ? await o.readiness() : (await o.store.list('_readyz/'), null);
      } catch {
        // Unauthenticated: the reason in words, never the endpoint or bucket behind it.
        return 'object store unreachable';
      }
    })().then((why) => {
      lastProbe = { at: Date.now(), why };
      probe = null;
      return why;
    });
    return probe;
  };
  app.get('/readyz', async (_req, reply) => {
    const fresh = lastProbe && Date.now() - lastProbe.at < 1_000 ? lastProbe.why : undefined;
    const why =
      fresh !== undefined
        ? fresh
        : await Promise.race([
            runProbe(),
            new Promise<string>((r) => {
              const t = setTimeout(() => r(`the object store did not answer within ${probeMs} ms`), probeMs);
              t.unref();
            }),
          ]);
    return why ? reply.code(503).send({ status: 'not ready', reason: why }) : { status: 'ready' };
  });
  app.get('/metrics', async (req, reply) => {
    if (o.statusToken && !bearerMatches(req.headers.authorization, o.statusToken)) return deny(reply);
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  /**
   * What reads are answered from: with a refresh interval, the last snapshot at once (a rebuild
   * starts behind it, so no reader waits on the store's listings but the first); with none (0),
   * a snapshot of the store as it is now.
   */
  const read = (): Promise<View> => ((o.refreshMs ?? 1_000) > 0 ? cache.peek() : cache.get());
  // Warm the snapshot as soon as the console listens: the first page load does not build it.
  app.addHook('onListen', async () => {
    void cache.get().catch(() => undefined);
  });

  /** Answers 304 when the client has this snapshot already (the page polls with If-None-Match). */
  const withEtag = async <T>(req: FastifyRequest, reply: FastifyReply, body: (s: View) => T) => {
    const s = await read();
    const etag = `"${s.version}"`;
    void reply.header('etag', etag);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return body(s);
  };

  const graphBody = {
    assets: o.graph.assets.map((a) => ({
      key: a.key,
      stage: a.stage,
      deps: a.deps,
      description: a.description,
      ...(a.kind ? { kind: a.kind } : {}),
      checks: a.checks.map((c) => ({
        name: c.name,
        description: c.description,
        severity: c.severity,
        blocking: c.blocking,
      })),
    })),
    stages: [...new Set(o.graph.assets.map((a) => a.stage))],
  };
  const partitionsBody = (s: View) => ({
    version: s.version,
    builtAt: s.builtAt,
    partitions: s.partitions.map((p) => {
      const d = s.dismissed.get(p.partition);
      return {
        ...p,
        offer: offerFor(s, p.partition, codeVersions),
        ...(d ? { dismissed: { at: d.dismissedAt, reason: d.reason } } : {}),
      };
    }),
  });
  const bodies = new BodyCache();
  const json = (reply: FastifyReply, body: string) => reply.type('application/json; charset=utf-8').send(body);
  const pageMonths = (s: View) => {
    const b = partitionsBody(s);
    return { ...b, partitions: b.partitions.map(pageMonth) };
  };
  app.get('/api/graph', async () => graphBody);
  // ?view=page: the months as the page draws them (pageMonth), a fifth of the whole.
  app.get<{ Querystring: { view?: string } }>('/api/partitions', async (req, reply) => {
    const page = req.query.view === 'page';
    if (req.query.view !== undefined && !page) return bad(reply, 'view must be page (or absent)');
    return withEtag(req, reply, (s) =>
      json(
        reply,
        bodies.get(s.version, page ? 'months:page' : 'months', () => (page ? pageMonths(s) : partitionsBody(s))),
      ),
    );
  });
  /**
   * Everything the page draws first, in one round trip: the graph, the months, and the runs of the
   * month asked for (or of the latest month not dismissed). The months' ETag is the one
   * /api/partitions answers with, so the page's polling goes on from it.
   */
  app.get<{ Querystring: { month?: string } }>('/api/overview', async (req, reply) => {
    const asked = req.query.month;
    if (asked !== undefined && asked !== '' && !/^\d{4}-(0[1-9]|1[0-2])$/.test(asked))
      return bad(reply, `month must be YYYY-MM (got ${JSON.stringify(asked.slice(0, 100))})`);
    const s = await read();
    const month =
      (asked && s.partitions.some((p) => p.partition === asked) ? asked : null) ??
      (s.partitions.filter((p) => !s.dismissed.has(p.partition)).at(-1) ?? s.partitions.at(-1))?.partition ??
      null;
    return json(
      reply,
      bodies.get(s.version, `overview:${month ?? ''}`, () => ({
        ...pageMonths(s),
        etag: `"${s.version}"`,
        graph: graphBody,
        month,
        runs: month
          ? s.runs
              .filter((r) => r.partition === month)
              .slice(0, 100)
              .map(summarize)
          : [],
      })),
    );
  });
  app.get('/api/actions/pending', async () => ({
    pending: (await pendingActions(o.store)).map((r) => ({
      id: r.id,
      kind: r.kind,
      createdAt: r.createdAt,
      attempts: r.attempts,
      runs: r.events.map((e) => ({ partition: e.partition, runId: e.runId })),
      ...(r.lastError ? { lastError: r.lastError } : {}),
    })),
  }));
  const monthParams = {
    type: 'object',
    required: ['partition'],
    properties: { partition: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } },
  } as const;
  app.post<{ Params: { partition: string }; Body: { reason?: string } | undefined }>(
    '/api/partitions/:partition/dismiss',
    {
      schema: {
        params: monthParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { reason: { type: 'string', maxLength: 500 } },
        },
      },
    },
    async (req) => {
      const rec = await dismissMonth(
        o.store,
        req.params.partition,
        req.body?.reason ?? 'dismissed from the console',
        now(),
      );
      cache.invalidate();
      return rec;
    },
  );
  app.post<{ Params: { partition: string } }>(
    '/api/partitions/:partition/restore',
    { schema: { params: monthParams } },
    async (req, reply) => {
      const rec = await restoreMonth(o.store, req.params.partition, now());
      cache.invalidate();
      if (!rec)
        return reply.code(404).send({ error: 'not found', message: `${req.params.partition} is not dismissed` });
      return rec;
    },
  );
  app.get<{ Params: { runId: string } }>('/api/runs/:runId', async (req, reply) => {
    if (!RUN_ID.test(req.params.runId)) return bad(reply, 'run ids are 1-128 characters of [A-Za-z0-9._-]');
    let s = await read();
    let run = s.runs.find((r) => r.runId === req.params.runId);
    // A run younger than the last snapshot: looked for in the store as it is now. A run whose
    // records changed since the snapshot (written after it, or missed by the run index): the
    // snapshot is rebuilt from the records, so the run shows what its records say now.
    if (!run || !(await catalog.runIsCurrent(run.partition, run.runId))) {
      if (run) cache.invalidate();
      s = await cache.get();
      run = s.runs.find((r) => r.runId === req.params.runId);
    }
    if (!run) return reply.code(404).send({ error: 'not found', message: `no run ${req.params.runId}` });
    return { ...run, parent: run.trigger.parentRunId ? summarizeOrNull(s, run.trigger.parentRunId) : null };
  });
  app.get<{ Params: { runId: string }; Querystring: { stage?: string; level?: string; q?: string } }>(
    '/api/runs/:runId/logs',
    async (req, reply) => {
      if (!RUN_ID.test(req.params.runId)) return bad(reply, 'run ids are 1-128 characters of [A-Za-z0-9._-]');
      const { stage, level, q } = req.query;
      if (stage !== undefined && !(LOG_STAGES as readonly string[]).includes(stage))
        return bad(reply, `stage must be one of ${LOG_STAGES.join(', ')} (got ${JSON.stringify(stage.slice(0, 50))})`);
      if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level))
        return bad(reply, `level must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level.slice(0, 50))})`);
      if (q !== undefined && q.length > 200) return bad(reply, 'q is at most 200 characters');
      const s = await cache.get();
      const run = s.runs.find((r) => r.runId === req.params.runId);
      if (!run) return reply.code(404).send({ error: 'not found', message: `no run ${req.params.runId}` });
      return readRunLogs(o.store, run, LOG_STAGES, {
        ...(stage ? { stage } : {}),
        ...(level ? { level: level as LogLevel } : {}),
        ...(q ? { q } : {}),
      });
    },
  );
  app.get<{ Params: { key: string } }>('/api/assets/:key', async (req, reply) => {
    const def = o.graph.assets.find((a) => a.key === req.params.key);
    if (!def || !assetKeys.has(req.params.key))
      return reply.code(404).send({
        error: 'not found',
        message: `no asset ${JSON.stringify(req.params.key.slice(0, 100))}; assets: ${[...assetKeys].join(', ')}`,
      });
    const s = await read();
    return json(
      reply,
      bodies.get(s.version, `asset:${def.key}`, () => ({
        key: def.key,
        stage: def.stage,
        deps: def.deps,
        description: def.description,
        downstream: o.graph.assets.filter((a) => a.deps.includes(def.key)).map((a) => a.key),
        checks: def.checks,
        history: assetHistory(s, def.key, def.stage),
      })),
    );
  });

  const partitionBody = {
    type: 'object',
    required: ['partition'],
    additionalProperties: false,
    properties: { partition: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } },
  } as const;
  const rangeBody = {
    type: 'object',
    required: ['from', 'to'],
    additionalProperties: false,
    properties: {
      from: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' },
      to: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' },
    },
  } as const;
  app.post<{ Body: { partition: string } }>('/api/runs', { schema: { body: partitionBody } }, async (req, reply) => {
    // The last snapshot, not a rebuild (an action answers at once): the files themselves are listed afresh.
    const r = await (await o.actions()).rerun(req.body.partition, 'console', await cache.peek());
    cache.invalidate();
    return reply.code(202).send({ ...r, source: 'console' });
  });
  app.post<{ Body: { from: string; to: string } }>(
    '/api/backfills',
    { schema: { body: rangeBody } },
    async (req, reply) => {
      const { from, to } = req.body;
      if (to < from) return bad(reply, `to (${to}) is before from (${from})`);
      const s = await cache.peek();
      const skip = new Map([...s.dismissed.keys()].map((p) => [p, `${p} is dismissed`]));
      const rec = await (await o.actions()).backfill(from, to, { skip, snapshot: s });
      cache.invalidate();
      return reply.code(202).send({ ...rec, progress: `/api/backfills/${rec.id}`, max: MAX_BACKFILL_MONTHS });
    },
  );
  app.post<{ Params: { runId: string } }>('/api/runs/:runId/reexecute', async (req, reply) => {
    if (!RUN_ID.test(req.params.runId)) return bad(reply, 'run ids are 1-128 characters of [A-Za-z0-9._-]');
    cache.invalidate();
    const r = await (await o.actions()).reexecute(req.params.runId, await cache.get());
    cache.invalidate();
    return reply.code(202).send({ ...r, source: 'reexecution' });
  });
  registerTruthRoutes(app, () => cache.get(), registry);
  registerPageRoutes(app, {
    store: o.store,
    snapshot: read,
    actions: o.actions,
    invalidate: () => cache.invalidate(),
    now,
  });
  app.addHook('onClose', async () => {
    registry.clear();
  });
  return app;
}

function summarizeOrNull(s: Snapshot, runId: string) {
  const r = s.runs.find((x) => x.runId === runId);
  return r ? summarize(r) : null;
}
