import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../stage/context.js';
import { kafkaLogCreator } from './log.js';

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('kafkaLogCreator', () => {
  const entry = (namespace: string, level: logLevel, message: string, extra: Record<string, unknown> = {}) => ({
    namespace,
    level,
    label: logLevel[level],
    log: { timestamp: '2031-07-01T00:00:00.000Z', message, ...extra },
  });

  it('logs the CreateTopics answer for a topic that already exists at debug, other error answers at warn, the rest at their level', () => {
    const { logger, lines } = recorder();
    const log = kafkaLogCreator(logger)(logLevel.DEBUG);
    log(
      entry('Connection', logLevel.ERROR, 'Response CreateTopics(key: 19, version: 3)', {
        error: 'Topic creation errors',
        correlationId: 2,
      }),
    );
    log(
      entry('Connection', logLevel.ERROR, 'Response JoinGroup(key: 11, version: 5)', {
        error: 'The coordinator is loading',
      }),
    );
    log(entry('Consumer', logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded'));
    log(entry('Producer', logLevel.WARN, 'Limiting retries for the idempotent producer to Number.MAX_SAFE_INTEGER'));
    expect(lines).toEqual([
      'debug Response CreateTopics(key: 19, version: 3) {"component":"kafkajs","namespace":"Connection","error":"Topic creation errors","correlationId":2}',
      'warn Response JoinGroup(key: 11, version: 5) {"component":"kafkajs","namespace":"Connection","error":"The coordinator is loading"}',
      'error Crash: KafkaJSNumberOfRetriesExceeded {"component":"kafkajs","namespace":"Consumer"}',
      'debug Limiting retries for the idempotent producer to Number.MAX_SAFE_INTEGER {"component":"kafkajs","namespace":"Producer"}',
    ]);
  });

  it('drops fields named like credentials', () => {
    const { logger, lines } = recorder();
    kafkaLogCreator(logger)(logLevel.DEBUG)(
      entry('Connection', logLevel.INFO, 'Connecting', { sasl: { password: 'hunter2' }, broker: 'b:9092' }),
    );
    expect(lines).toEqual(['info Connecting {"component":"kafkajs","namespace":"Connection","broker":"b:9092"}']);
  });
});
