import { isTransientIoError } from '../errors/index.js';

// How the Kafka bus classifies what kafkajs throws: a pure function (no kafkajs import), unit-tested
// over the table without a broker (kafka-errors.test.ts).

/**
 * Whether a kafkajs error is worth another try later: kafkajs marks its errors `retriable`
 * (a connection lost, a leader moved, a request timed out); a transient error whose in-client
 * retries ran out (KafkaJSNumberOfRetriesExceeded, itself non-retriable) is, by its cause; a
 * socket's transient code (ECONNRESET...) is; anything else is not.
 */
export function kafkaTransient(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  if ((e as Error).name === 'KafkaJSNumberOfRetriesExceeded') return kafkaTransient((e as Error).cause);
  if ('retriable' in e) return Boolean(e.retriable);
  return isTransientIoError(e);
}
