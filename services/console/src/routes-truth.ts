import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { PartitionSchema } from '@bottleneck/shared/events/envelope';
import type { Snapshot } from '@bottleneck/shared/catalog/index';

const KINDS = ['unsigned', 'bad-signature', 'invalid', 'unverified-run'] as const;

/**
 * What the pipeline refused or could not place, from the catalog (README, console API):
 * GET /api/refused[?partition=YYYY-MM|unknown&kind=...] and GET /api/unrecognised-uploads, with
 * the metrics bn_refused_events{partition,kind} and bn_unrecognised_uploads. Behind the same token
 * and ETags as the other /api routes (registered from app.ts).
 */
export function registerTruthRoutes(app: FastifyInstance, snapshot: () => Promise<Snapshot>, registry: Registry): void {
  new Gauge({
    name: 'bn_refused_events',
    help: 'events refused (never runs), by the month they name and why: unsigned, bad-signature, invalid, unverified-run',
    labelNames: ['partition', 'kind'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const r of (await snapshot()).refused) {
        const k = `${r.partition}\u0000${r.kind}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      for (const [k, n] of counts) {
        const [partition = '', kind = ''] = k.split('\u0000');
        this.set({ partition, kind }, n);
      }
    },
  });
  new Gauge({
    name: 'bn_unrecognised_uploads',
    help: 'uploads the pipeline cannot place (listed by GET /api/unrecognised-uploads)',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).unrecognisedUploads.length);
    },
  });

  app.get<{ Querystring: { partition?: string; kind?: string } }>('/api/refused', async (req, reply) => {
    const { partition, kind } = req.query;
    if (partition !== undefined && partition !== 'unknown' && !PartitionSchema.safeParse(partition).success)
      return reply.code(400).send({
        error: 'bad request',
        message: `partition must be YYYY-MM or unknown (got ${JSON.stringify(partition.slice(0, 100))})`,
      });
    if (kind !== undefined && !(KINDS as readonly string[]).includes(kind))
      return reply.code(400).send({
        error: 'bad request',
        message: `kind must be one of ${KINDS.join(', ')} (got ${JSON.stringify(kind.slice(0, 100))})`,
      });
    const s = await snapshot();
    const etag = `"${s.version}"`;
    void reply.header('etag', etag);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    const refused = s.refused.filter((r) => (!partition || r.partition === partition) && (!kind || r.kind === kind));
    return { version: s.version, count: refused.length, refused };
  });

  app.get('/api/unrecognised-uploads', async (req, reply) => {
    const s = await snapshot();
    const etag = `"${s.version}"`;
    void reply.header('etag', etag);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return { version: s.version, count: s.unrecognisedUploads.length, uploads: s.unrecognisedUploads };
  });
}
