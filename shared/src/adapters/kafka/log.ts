import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '../../stage/context.js';
import { redactSecrets } from '../../text/redact.js';

/** kafkajs log levels by name, for configuration. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export const KAFKA_LOG_LEVELS: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/** Keys whose values never reach a log, whatever they hold. */
const SECRET_KEY = /sasl|ssl|password|passwd|secret|token|credential|authorization|oauth/i;

/**
 * kafkajs warnings that are expected here, logged at debug instead. The bus limits the idempotent
 * producer's retries on purpose: it promises at-least-once, not exactly-once, and a publish must
 * fail (and be retried by the consumer) rather than block forever while Kafka is down.
 */
const EXPECTED_WARNINGS = [/^Limiting retries for the idempotent producer/];

/** A shallow copy of a kafkajs log entry's fields that is safe to log: no secrets, errors as text. */
export function safeFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_KEY.test(k)) continue;
    if (typeof v === 'string') out[k] = redactSecrets(v);
    else if (v instanceof Error) out[k] = redactSecrets(v.message);
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    // Objects may nest a broker's or client's configuration: keep only their JSON, redacted.
    else if (v !== undefined) {
      try {
        // JSON.stringify gives undefined for a function, whatever its declared type says.
        const json = JSON.stringify(v, (key, val: unknown) => (SECRET_KEY.test(key) ? undefined : val)) as
          string | undefined;
        out[k] = redactSecrets(json ?? '');
      } catch {
        out[k] = '[unserializable]';
      }
    }
  }
  return out;
}

/**
 * Routes kafkajs's own logs to the pipeline's logger, with `component: 'kafkajs'` and the kafkajs
 * namespace (Consumer, Connection...). Fields named like credentials are dropped and every string
 * goes through redactSecrets, so SASL/SSL settings never reach a log.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const fields = { component: 'kafkajs', namespace, ...safeFields(extra) };
      const msg = redactSecrets(message);
      // kafkajs logs every error response at ERROR before deciding to retry it or rejoin (coordinator
      // loading, group rebalancing); one it cannot get past surfaces as an exception or a consumer
      // crash, which the bus logs at ERROR itself.
      const handledResponse = namespace === 'Connection' && msg.startsWith('Response ');
      // CreateTopics answers TOPIC_ALREADY_EXISTS when another client created a topic first: kafkajs
      // logs that as an error before treating it as success. A real creation failure reaches
      // ensureTopics as an exception (BN_ERR_BUS_TOPICS, with the broker's reasons).
      const createTopicsAnswer = handledResponse && msg.startsWith('Response CreateTopics(');
      if (createTopicsAnswer) logger.debug(fields, msg);
      else if (level === logLevel.ERROR && !handledResponse) logger.error(fields, msg);
      else if (level === logLevel.ERROR) logger.warn(fields, msg);
      else if (level === logLevel.WARN && !EXPECTED_WARNINGS.some((w) => w.test(msg))) logger.warn(fields, msg);
      else if (level === logLevel.INFO) logger.info(fields, msg);
      else logger.debug(fields, msg);
    };
}
