import { isTransientIoError } from '../errors/index.js';

// How the Kafka bus classifies what kafkajs throws: a pure function (no kafkajs import), unit-tested
// over the table without a broker (kafka-errors.test.ts).

/**
 * Whether a kafkajs error is worth another try later: kafkajs marks its errors `retriable`
 * (a connection lost, a leader moved, a request timed out); a transient error whose in-client
 * retries ran out (KafkaJSNumberOfRetriesExceeded, itself non-retriable) is, by its cause; a
 * socket's transient code (ECONNRESET...) is; so is our retry helper's BN_ERR_RETRIES_EXHAUSTED
 * by its cause, and an aggregate of the brokers' answers when every answer is; anything else is not.
 */
export function kafkaTransient(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  if ((e as Error).name === 'KafkaJSNumberOfRetriesExceeded') return kafkaTransient((e as Error).cause);
  // Our retry helper's wrapper says only that our own tries ran out: what failed is its cause.
  if ((e as { code?: unknown }).code === 'BN_ERR_RETRIES_EXHAUSTED') return kafkaTransient((e as Error).cause);
  // An aggregate of the brokers' answers (CreateTopics): transient when every one of them is.
  const inner = (e as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) return inner.every(kafkaTransient);
  if ('retriable' in e) return Boolean(e.retriable);
  return isTransientIoError(e);
}
