import { describe, expect, it } from 'vitest';
import { kafkaTransient } from './kafka-errors.js';

const kafkajs = (name: string, retriable: boolean, cause?: unknown) =>
  Object.assign(new Error(name), { name, retriable, ...(cause ? { cause } : {}) });

describe('the Kafka bus: which errors a later attempt may cure', () => {
  it.each([
    ['KafkaJSConnectionError', true],
    ['KafkaJSRequestTimeoutError', true],
    ['KafkaJSProtocolError (NOT_LEADER_FOR_PARTITION)', true],
    ['KafkaJSNonRetriableError', false],
    ['KafkaJSProtocolError (TOPIC_AUTHORIZATION_FAILED)', false],
  ])('%s: retriable %s', (name, retriable) => {
    expect(kafkaTransient(kafkajs(name, retriable))).toBe(retriable);
  });

  it('looks through KafkaJSNumberOfRetriesExceeded (non-retriable itself) to its cause', () => {
    expect(
      kafkaTransient(kafkajs('KafkaJSNumberOfRetriesExceeded', false, kafkajs('KafkaJSConnectionError', true))),
    ).toBe(true);
    expect(
      kafkaTransient(kafkajs('KafkaJSNumberOfRetriesExceeded', false, kafkajs('KafkaJSProtocolError', false))),
    ).toBe(false);
    expect(kafkaTransient(kafkajs('KafkaJSNumberOfRetriesExceeded', false))).toBe(false);
  });

  it('retries a socket reset or timeout, not a programmer error nor a non-object', () => {
    expect(kafkaTransient(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(kafkaTransient(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))).toBe(true);
    expect(kafkaTransient(new TypeError('x'))).toBe(false);
    expect(kafkaTransient('ECONNRESET')).toBe(false);
    expect(kafkaTransient(null)).toBe(false);
  });

  it('looks through our BN_ERR_RETRIES_EXHAUSTED to its cause, and into an aggregate of answers (all must be transient)', () => {
    const exhausted = (cause: unknown) =>
      Object.assign(new Error('gave up'), {
        name: 'BottleneckError',
        code: 'BN_ERR_RETRIES_EXHAUSTED',
        retriable: false,
        cause,
      });
    expect(kafkaTransient(exhausted(kafkajs('KafkaJSProtocolError (LEADER_NOT_AVAILABLE)', true)))).toBe(true);
    expect(kafkaTransient(exhausted(kafkajs('KafkaJSProtocolError (TOPIC_AUTHORIZATION_FAILED)', false)))).toBe(false);
    const aggregate = (...errors: unknown[]) =>
      Object.assign(new Error('aggregate'), { name: 'KafkaJSAggregateError', retriable: false, errors });
    expect(kafkaTransient(aggregate(kafkajs('NOT_CONTROLLER', true), kafkajs('LEADER_NOT_AVAILABLE', true)))).toBe(
      true,
    );
    expect(
      kafkaTransient(aggregate(kafkajs('NOT_CONTROLLER', true), kafkajs('INVALID_REPLICATION_FACTOR', false))),
    ).toBe(false);
    expect(kafkaTransient(aggregate())).toBe(false);
  });
});
