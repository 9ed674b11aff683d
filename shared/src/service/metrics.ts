import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics every service exposes on GET /metrics. */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'bn_' });
  return {
    registry,
    consumed: new Counter({
      name: 'bn_events_consumed_total',
      help: 'events handled, by type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    produced: new Counter({
      name: 'bn_events_produced_total',
      help: 'events published, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'bn_failures_total',
      help: 'runs this service failed, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'bn_handler_duration_seconds',
      help: 'time to handle one event',
      labelNames: ['type'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    alertsPending: new Gauge({
      name: 'bn_alerts_pending',
      help: 'alerts waiting to be sent (the mail service failed; retried with backoff)',
      registers: [registry],
    }),
    unrecognised: new Counter({
      name: 'bn_unrecognised_uploads_total',
      help: 'uploads the pipeline cannot place (wrong prefix, no month, not a month, unknown file), each key counted once',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'bn_consumer_lag',
      help: 'messages not yet consumed by this service, by topic',
      labelNames: ['topic'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
