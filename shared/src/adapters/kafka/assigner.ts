import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { defined } from '../../errors/index.js';

const NAME = 'BottleneckRoundRobin';
const VERSION = 0;

/**
 * Round-robin partition assignment that honours each member's own subscription.
 *
 * kafkajs's RoundRobinAssigner hands the partitions of the *leader's* topics to every member,
 * whatever each member subscribed to: in a group whose members subscribe to different event types
 * (two subscriptions of one service, or two versions of a service during a deploy), some
 * partitions are assigned to a member that drops them and are never consumed. Here each topic's
 * partitions go only to the members that subscribed to it, and the leader loads the metadata of
 * every member's topics first.
 */
export const subscriptionAwareRoundRobin: PartitionAssigner = ({ cluster }) => ({
  name: NAME,
  version: VERSION,

  async assign({ members }) {
    const subscribed = new Map<string, Set<string>>();
    for (const m of members)
      subscribed.set(m.memberId, new Set(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? []));
    const memberIds = [...subscribed.keys()].sort();
    const union = [...new Set([...subscribed.values()].flatMap((topics) => [...topics]))].sort();
    await cluster.addMultipleTargetTopics(union);

    const assignment = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
    let next = 0;
    for (const topic of union) {
      const takers = memberIds.filter((id) => subscribed.get(id)?.has(topic));
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((p) => p.partitionId)
        .sort((a, b) => a - b);
      for (const partition of partitions) {
        // One counter across topics, so that one-partition topics do not all land on the first member.
        const own = defined(
          assignment.get(defined(takers[next++ % takers.length], 'a member taking the topic')),
          'the assignment of a member',
        );
        (own[topic] ??= []).push(partition);
      }
    }
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: VERSION,
        assignment: defined(assignment.get(memberId), 'the assignment of a member'),
        userData: Buffer.alloc(0),
      }),
    }));
  },

  protocol({ topics }) {
    return {
      name: NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData: Buffer.alloc(0) }),
    };
  },
});
