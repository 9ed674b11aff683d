import { describe, expect, it } from 'vitest';
import { createError } from '../errors/index.js';
import { startStep, type StartPatience } from './start.js';

/** A log that keeps its lines, a fake clock that the fake sleep moves. */
function patience(budgetMs: number) {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  let t = 0;
  const p: StartPatience = {
    budgetMs,
    log: {
      info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
      warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
    },
    maxDelayMs: 4_000,
    retry: {
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
      random: () => 1,
    },
  };
  return { p, lines, elapsed: () => t };
}

/** What kafkajs throws for a partition whose leader is not elected yet (retriable), wrapped as ensureTopics does. */
const cold = () =>
  createError(
    'BN_ERR_BUS_TOPICS',
    'creating the bus topics bn.trigger ... bn.dead-letter (12 partitions, replication factor 3) failed: There is no leader for this topic-partition as we are in the middle of a leadership election',
    { retriable: true },
  );

describe('startStep: a service start waits for a cold cluster', () => {
  it('tries again while the cluster answers with a transient error, saying each time what it waits for and why', async () => {
    const { p, lines } = patience(600_000);
    let calls = 0;
    const v = await startStep(
      'the Kafka brokers k1:9092 (bus topics, consumer group bottleneck-ingest)',
      async () => {
        if (++calls <= 3) throw cold();
        return 'subscribed';
      },
      p,
    );
    expect(v).toBe('subscribed');
    expect(calls).toBe(4);
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(3);
    expect(warns[0]!.msg).toBe(
      'waiting for the Kafka brokers k1:9092 (bus topics, consumer group bottleneck-ingest): creating the bus topics bn.trigger ... bn.dead-letter (12 partitions, replication factor 3) failed: There is no leader for this topic-partition as we are in the middle of a leadership election (trying again in 0.3 s, for up to 600 s in all: BN_RETRY_BUDGET_MS)',
    );
    expect(warns.map((w) => w.obj.attempt)).toEqual([1, 2, 3]);
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      msg: 'the Kafka brokers k1:9092 (bus topics, consumer group bottleneck-ingest): ready after 4 attempts',
    });
  });

  it('does not wait on an error no later attempt can cure (a replication factor above the broker count)', async () => {
    const { p, lines } = patience(600_000);
    let calls = 0;
    const bad = createError('BN_ERR_BUS_TOPICS', 'INVALID_REPLICATION_FACTOR', { retriable: false });
    await expect(
      startStep(
        'the Kafka brokers',
        async () => {
          calls++;
          throw bad;
        },
        p,
      ),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
    expect(lines).toEqual([]);
  });

  it('gives up once the budget is spent, saying how long it tried (the service then exits 1)', async () => {
    const { p, elapsed } = patience(30_000);
    const err = await startStep(
      'the Kafka brokers',
      async () => {
        throw cold();
      },
      p,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BN_ERR_RETRIES_EXHAUSTED' });
    expect((err as Error).message).toMatch(/^gave up after \d+ attempts over 2\d s: creating the bus topics/);
    expect(elapsed()).toBeLessThanOrEqual(30_000);
  });
});
