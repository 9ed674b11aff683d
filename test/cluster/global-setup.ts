import { ownServers } from '../servers.js';

/**
 * A three-node KRaft cluster (each node controller and broker) and one S3 server for the whole
 * cluster suite, on loopback, started by the project's scripts. Always this suite's own cluster
 * (never KAFKA_BROKERS from outside): the scenarios kill and restart its nodes, by port only
 * (CLUSTER_KAFKA_PORT).
 */
export default function setup(): Promise<() => Promise<void>> {
  return ownServers({ suite: 'cluster suite', portVar: 'CLUSTER_KAFKA_PORT', kafka: { brokers: 3 } });
}
