import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../stage/context.js';
import { replicationSetting } from '../../wiring.js';
import { ensureTopics, replicationFor } from './topics.js';

describe('replicationFor', () => {
  it('three copies and min.insync.replicas 2 from three brokers up; fewer copies below', () => {
    expect(replicationFor(1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(replicationFor(2)).toEqual({ replicationFactor: 2, minInsyncReplicas: 1 });
    expect(replicationFor(3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(replicationFor(7)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });
});

describe('KAFKA_REPLICATION_FACTOR', () => {
  it('is auto by default, or a whole number >= 1', () => {
    expect(replicationSetting(undefined)).toBe('auto');
    expect(replicationSetting('auto')).toBe('auto');
    expect(replicationSetting('3')).toBe(3);
    expect(() => replicationSetting('0')).toThrow(
      'configuration: KAFKA_REPLICATION_FACTOR must be auto or a whole number >= 1 (got "0")',
    );
    expect(() => replicationSetting('three')).toThrow(/must be auto or a whole number >= 1 \(got "three"\)/);
  });
});

/** An admin client recording the topics it is asked to create, on a cluster of `brokers` brokers. */
function recordingAdmin(brokers: number) {
  const created: unknown[] = [];
  const admin = {
    listTopics: () => Promise.resolve([]),
    describeCluster: () =>
      Promise.resolve({
        brokers: Array.from({ length: brokers }, (_, i) => ({ nodeId: i + 1, host: '127.0.0.1', port: 9092 + i })),
        controller: 1,
        clusterId: 'c',
      }),
    createTopics: (o: { topics: unknown[] }) => {
      created.push(...o.topics);
      return Promise.resolve(true);
    },
    fetchTopicMetadata: () => Promise.resolve({ topics: [] }),
  } as unknown as Admin;
  return { admin, created };
}

describe('ensureTopics with replication auto', () => {
  it('creates the topics with 3 copies and min.insync.replicas 2 on a three-broker cluster', async () => {
    const { admin, created } = recordingAdmin(3);
    await ensureTopics(admin, ['p.a'], { numPartitions: 12, replicationFactor: 'auto' }, silentLogger);
    expect(created).toEqual([
      {
        topic: 'p.a',
        numPartitions: 12,
        replicationFactor: 3,
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
    ]);
  });

  it('one copy on one broker; a min.insync.replicas given in the topic config wins', async () => {
    const { admin, created } = recordingAdmin(1);
    await ensureTopics(
      admin,
      ['p.a'],
      { numPartitions: 3, replicationFactor: 'auto', configEntries: { 'retention.ms': '1000' } },
      silentLogger,
    );
    expect(created).toEqual([
      {
        topic: 'p.a',
        numPartitions: 3,
        replicationFactor: 1,
        configEntries: [
          { name: 'retention.ms', value: '1000' },
          { name: 'min.insync.replicas', value: '1' },
        ],
      },
    ]);
    const three = recordingAdmin(3);
    await ensureTopics(
      three.admin,
      ['p.a'],
      { numPartitions: 3, replicationFactor: 'auto', configEntries: { 'min.insync.replicas': '3' } },
      silentLogger,
    );
    expect(three.created).toEqual([
      expect.objectContaining({ replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '3' }] }),
    ]);
  });

  it('a fixed factor is passed as it is, with no min.insync.replicas added', async () => {
    const { admin, created } = recordingAdmin(3);
    await ensureTopics(admin, ['p.a'], { numPartitions: 3, replicationFactor: 1 }, silentLogger);
    expect(created).toEqual([{ topic: 'p.a', numPartitions: 3, replicationFactor: 1 }]);
  });
});

describe('ensureTopics on a cold cluster', () => {
  /** kafkajs's answer for a partition with no leader yet (retriable), or for a factor above the broker count (not). */
  const protocol = (type: string, retriable: boolean) =>
    Object.assign(new Error(`${type} answer`), { name: 'KafkaJSProtocolError', type, retriable });

  it.each([
    ['LEADER_NOT_AVAILABLE', true],
    ['NOT_LEADER_OR_FOLLOWER', true],
    ['INVALID_REPLICATION_FACTOR', false],
  ])('a broker answering %s: BN_ERR_BUS_TOPICS, retriable %s', async (type, retriable) => {
    const { admin } = recordingAdmin(3);
    (admin as { createTopics: unknown }).createTopics = () => Promise.reject(protocol(type, retriable));
    const err = await ensureTopics(admin, ['p.a'], { numPartitions: 3, replicationFactor: 'auto' }, silentLogger).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'BN_ERR_BUS_TOPICS', retriable });
    expect((err as Error).message).toContain(`(3 partitions, replication factor 3) failed:`);
  });
});
