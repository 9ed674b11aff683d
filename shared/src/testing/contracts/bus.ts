import { afterEach, beforeEach, describe, expect } from 'vitest';
import { makeEvent, parseEvent, type EventType, type PipelineEvent } from '../../events/index.js';
import type { Bus, DeadLetterMessage, EventHandler, Subscription } from '../../ports/bus.js';
import { contractIt, uniqueTag, waitUntil, type ContractOptions } from './helpers.js';

export type { ContractOptions } from './helpers.js';

/** What a bus contract run needs: a fresh bus, and a way to close it and remove what it made. */
export interface BusFixture {
  bus: Bus;
  /** Closes the bus and removes what `make` created (topics, folders). */
  cleanup(): Promise<void>;
}

/**
 * The behaviour every Bus adapter must have, as a vitest suite: the in-memory bus and Kafka run
 * the same tests. Each test uses its own run id, consumer groups and (through `make`) topics, and
 * waits by polling, never through an adapter's own hooks.
 *
 * @example
 * busContract('MemoryBus', async () => {
 *   const bus = new MemoryBus({ topicPrefix: uniqueTag() });
 *   return { bus, cleanup: () => bus.close() };
 * });
 */
export function busContract(name: string, make: () => Promise<BusFixture>, options: ContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { test, done } = contractIt(options, timeoutMs * 3);

  describe(`Bus contract: ${name}`, () => {
    let fx: BusFixture;
    let subs: Subscription[];
    let runId: string;
    const partition = '2031-07';

    beforeEach(async () => {
      fx = await make();
      subs = [];
      runId = uniqueTag('run');
    }, timeoutMs * 2);

    afterEach(async () => {
      for (const s of subs) await s.close();
      await fx.cleanup();
    }, timeoutMs * 2);

    const trigger = (): PipelineEvent =>
      makeEvent('trigger', { runId, partition, materializations: {}, checks: [], payload: { source: 'cli' } });

    /** Subscribes a handler that sees only this test's events (topics may be shared with other runs). */
    async function subscribe(
      types: readonly EventType[],
      handler: EventHandler,
      group = uniqueTag('group'),
    ): Promise<Subscription> {
      const sub = await fx.bus.subscribe({
        group,
        types,
        handler: async (e) => {
          if (e.runId === runId) await handler(e);
        },
      });
      subs.push(sub);
      return sub;
    }

    test('delivers a published event, re-validated, equal to what was published', async () => {
      const got: PipelineEvent[] = [];
      await subscribe(['failed'], async (e) => {
        got.push(e);
      });
      const sent = makeEvent('failed', {
        runId,
        partition,
        materializations: {
          erp_clean: {
            location: `staging/${partition}/${runId}/erp_clean.parquet`,
            dataVersion: 'ab'.repeat(32),
            metadata: {
              rowCount: 825,
              durationMs: 12,
              bytes: 4096,
              columns: [{ name: 'price', type: 'DECIMAL(18,4)' }],
            },
          },
        },
        checks: [
          {
            asset: 'erp_clean',
            check: 'product_id_unique',
            passed: false,
            severity: 'ERROR',
            blocking: true,
            description: 'no product_id twice',
            metadata: { duplicateProductIds: ['4954'] },
          },
        ],
        expectations: { totalRevenue: '70568.60' },
        payload: {
          stage: 'clean',
          asset: 'erp_clean',
          code: 'BN_ERR_INPUT_BAD_VALUE',
          errorClass: 'BottleneckError',
          message: 'erp.xlsx, sheet "Sheet1", column "price", row 12: "vingt euros" is not a number. Ünïcödé ✓',
          retriable: false,
          location: { file: 'erp.xlsx', sheet: 'Sheet1', column: 'price', row: 12 },
          failedAt: '2031-07-01T10:00:00.000Z',
        },
      });
      await fx.bus.publish(sent);
      await waitUntil(() => got.length >= 1, timeoutMs, 'the failed event');
      expect(got[0]).toEqual(sent);
      expect(got[0]).not.toBe(sent);
      expect(parseEvent(got[0])).toEqual(sent);
    });

    test('delivers to a subscriber only the event types it subscribed to', async () => {
      const got: PipelineEvent[] = [];
      await subscribe(['merged'], async (e) => {
        got.push(e);
      });
      const t = trigger();
      const m = makeEvent('merged', { runId, partition, materializations: {}, checks: [], payload: {} });
      await fx.bus.publish(t);
      await fx.bus.publish(m);
      await waitUntil(() => got.length >= 1, timeoutMs, 'the merged event');
      expect(got.map((e) => e.type)).toEqual(['merged']);
      expect(got[0]!.id).toBe(m.id);
    });

    test('gives every event to each consumer group', async () => {
      const a: string[] = [];
      const b: string[] = [];
      await subscribe(['trigger', 'merged'], async (e) => {
        a.push(e.id);
      });
      await subscribe(['trigger', 'merged'], async (e) => {
        b.push(e.id);
      });
      const sent = [
        trigger(),
        makeEvent('merged', { runId, partition, materializations: {}, checks: [], payload: {} }),
        trigger(),
      ];
      for (const e of sent) await fx.bus.publish(e);
      await waitUntil(
        () => new Set(a).size >= 3 && new Set(b).size >= 3,
        timeoutMs,
        'both groups to get the three events',
      );
      const ids = sent.map((e) => e.id).sort();
      expect([...new Set(a)].sort()).toEqual(ids);
      expect([...new Set(b)].sort()).toEqual(ids);
    });

    test('delivers the events of one partition and type in publish order, one at a time', async () => {
      const got: string[] = [];
      let active = 0;
      let maxActive = 0;
      await subscribe(['trigger'], async (e) => {
        active++;
        maxActive = Math.max(maxActive, active);
        // The first handlers are the slowest: a bus that ran them concurrently would reorder.
        await new Promise((r) => setTimeout(r, Math.max(0, 20 - got.length * 2)));
        got.push(e.id);
        active--;
      });
      const sent = Array.from({ length: 12 }, () => trigger());
      for (const e of sent) await fx.bus.publish(e);
      await waitUntil(() => got.length >= sent.length, timeoutMs, 'twelve events');
      expect(got).toEqual(sent.map((e) => e.id));
      expect(maxActive).toBe(1);
    });

    test('redelivers an event whose handler threw, before the events published after it', async () => {
      const deliveries: PipelineEvent[] = [];
      const handled: string[] = [];
      const sent = [trigger(), trigger(), trigger()];
      let thrown = false;
      await subscribe(['trigger'], async (e) => {
        deliveries.push(e);
        if (e.id === sent[0]!.id && !thrown) {
          thrown = true;
          throw new Error('transient failure in the handler');
        }
        handled.push(e.id);
      });
      for (const e of sent) await fx.bus.publish(e);
      await waitUntil(() => handled.length >= 3, timeoutMs, 'the three events to be handled');
      expect(handled).toEqual(sent.map((e) => e.id));
      const ids = deliveries.map((e) => e.id);
      const first = ids.indexOf(sent[0]!.id);
      const again = ids.indexOf(sent[0]!.id, first + 1);
      expect(first).toBe(0);
      expect(again).toBeGreaterThan(first);
      expect(deliveries[again]).toEqual(sent[0]);
      expect(ids.indexOf(sent[1]!.id)).toBeGreaterThan(again);
    });

    test('refuses an invalid event at publish with BN_ERR_EVENT_INVALID, and delivers nothing of it', async () => {
      const got: string[] = [];
      await subscribe(['trigger'], async (e) => {
        got.push(e.id);
      });
      const bad = { ...trigger(), partition: '2031-13' } as PipelineEvent;
      await expect(fx.bus.publish(bad)).rejects.toMatchObject({
        code: 'BN_ERR_EVENT_INVALID',
        message: 'event of type "trigger" does not match its schema: partition: partition must be YYYY-MM',
      });
      const { runId: _omit, ...noRunId } = trigger();
      await expect(fx.bus.publish(noRunId as PipelineEvent)).rejects.toMatchObject({
        code: 'BN_ERR_EVENT_INVALID',
        message:
          'event of type "trigger" does not match its schema: runId: Invalid input: expected string, received undefined',
      });
      const marker = trigger();
      await fx.bus.publish(marker);
      await waitUntil(() => got.length >= 1, timeoutMs, 'the valid event published after the invalid ones');
      expect(got).toEqual([marker.id]);
    });

    test("shares a group's events among its subscriptions: each event is handled once by the group", async () => {
      const group = uniqueTag('group');
      const a: string[] = [];
      const b: string[] = [];
      await subscribe(
        ['trigger'],
        async (e) => {
          a.push(e.id);
        },
        group,
      );
      await subscribe(
        ['trigger'],
        async (e) => {
          b.push(e.id);
        },
        group,
      );
      const sent = [trigger(), trigger(), trigger()];
      for (const e of sent) await fx.bus.publish(e);
      await waitUntil(() => a.length + b.length >= sent.length, timeoutMs, 'the three events');
      // A second delivery would come before a later event of the same month: wait for one instead of a while.
      const marker = trigger();
      await fx.bus.publish(marker);
      await waitUntil(
        () => a.includes(marker.id) || b.includes(marker.id),
        timeoutMs,
        'the marker event published after them',
      );
      expect([...a, ...b].filter((id) => id !== marker.id).sort()).toEqual(sent.map((e) => e.id).sort());
      expect([...a, ...b].filter((id) => id === marker.id)).toHaveLength(1);
    });

    test('resumes a group after its last handled event when a new subscription of the group starts', async () => {
      const group = uniqueTag('group');
      const first: string[] = [];
      const sub = await subscribe(
        ['trigger'],
        async (e) => {
          first.push(e.id);
        },
        group,
      );
      const early = trigger();
      await fx.bus.publish(early);
      await waitUntil(() => first.length >= 1, timeoutMs, 'the first event');
      await sub.close();
      const late = trigger();
      await fx.bus.publish(late);
      const second: string[] = [];
      await subscribe(
        ['trigger'],
        async (e) => {
          second.push(e.id);
        },
        group,
      );
      await waitUntil(() => second.length >= 1, timeoutMs, 'the event published while the group had no subscription');
      // Anything delivered again would come before a later event of the same month.
      const marker = trigger();
      await fx.bus.publish(marker);
      await waitUntil(() => second.includes(marker.id), timeoutMs, 'the marker event published after it');
      expect(first).toEqual([early.id]);
      expect(second).toEqual([late.id, marker.id]);
    });

    test('stops delivering to a closed subscription', async () => {
      const closed: string[] = [];
      const open: string[] = [];
      const sub = await subscribe(['trigger'], async (e) => {
        closed.push(e.id);
      });
      await subscribe(['trigger'], async (e) => {
        open.push(e.id);
      });
      const before = trigger();
      await fx.bus.publish(before);
      await waitUntil(() => closed.length >= 1 && open.length >= 1, timeoutMs, 'the first event in both groups');
      await sub.close();
      const after = trigger();
      await fx.bus.publish(after);
      // The open group getting the later event shows the bus had every chance to deliver it.
      await waitUntil(() => open.includes(after.id), timeoutMs, 'the later event in the open group');
      expect(closed).toEqual([before.id]);
    });

    test('carries raw text on a topic without events: each group reads every message, at least once', async () => {
      const topic = `${uniqueTag('raw')}.notifications`;
      const a: string[] = [];
      const b: string[] = [];
      subs.push(
        await fx.bus.subscribeRaw({
          topic,
          group: uniqueTag('group'),
          handler: async (m) => {
            if (m.topic === topic) a.push(m.value);
          },
        }),
      );
      subs.push(
        await fx.bus.subscribeRaw({
          topic,
          group: uniqueTag('group'),
          handler: async (m) => {
            b.push(`${m.key}:${m.value}`);
          },
        }),
      );
      const values = ['{"Records":[]}', 'not json at all', 'Ünïcödé ✓'];
      for (const v of values) await fx.bus.publishRaw(topic, v, '2031-07');
      await waitUntil(
        () => new Set(a).size >= 3 && new Set(b).size >= 3,
        timeoutMs,
        'both groups to read the three raw messages',
      );
      expect([...new Set(a)]).toEqual(values);
      expect([...new Set(b)]).toEqual(values.map((v) => `2031-07:${v}`));
    });

    test('hands a message it gave up on to dead-letter readers: where it came from, why, and the message itself', async () => {
      const group = uniqueTag('group');
      await subscribe(
        ['trigger'],
        async () => {
          throw new Error('this handler always fails');
        },
        group,
      );
      const seen: DeadLetterMessage[] = [];
      subs.push(
        await fx.bus.subscribeDeadLetters({
          group: uniqueTag('dlq'),
          handler: async (dl) => {
            if (dl.group === group) seen.push(dl);
          },
        }),
      );
      const sent = trigger();
      await fx.bus.publish(sent);
      await waitUntil(() => seen.length >= 1, timeoutMs * 2, 'the dead-letter record');
      expect(seen[0]).toMatchObject({ group, errorClass: 'Error', errorMessage: 'this handler always fails' });
      expect(seen[0]!.sourceTopic).toMatch(/\.trigger$/);
      expect(seen[0]!.attempts).toBeGreaterThanOrEqual(1);
      // The message as it was (with its signature, when the bus signs).
      const { sig: _sig, ...value } = JSON.parse(seen[0]!.value) as Record<string, unknown>;
      expect(value).toEqual(sent);
    });

    done();
  });
}
