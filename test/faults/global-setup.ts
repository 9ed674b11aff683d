import { ownServers } from '../servers.js';

/**
 * One Kafka broker and one S3 server for the whole fault suite, on loopback, started by the
 * project's scripts. The broker is always this suite's own (never KAFKA_BROKERS from outside): the
 * scenarios kill and restart it, by its port only (FAULTS_KAFKA_PORT).
 */
export default function setup(): Promise<() => Promise<void>> {
  return ownServers({ suite: 'fault suite', portVar: 'FAULTS_KAFKA_PORT' });
}
