import { describe, expect, it } from 'vitest';
import { alertMail, type DeadLetterRecord } from './stage.js';

const record: DeadLetterRecord = {
  runId: '2026-11-20261202T042851-4060db',
  partition: '2026-11',
  stage: 'clean',
  asset: 'erp_clean',
  code: 'BN_ERR_INPUT_BAD_VALUE',
  errorClass: 'BottleneckError',
  message: 'erp.xlsx, sheet "Sheet1", column "price", row 7: "vingt euros" is not a number',
  retriable: false,
  location: null,
  failedAt: '2026-12-02T04:28:52.000Z',
  recordedAt: '2026-12-02T04:28:53.000Z',
  triggeringEvent: null,
  failedEvent: { id: 'x', ts: '2026-12-02T04:28:52.000Z' },
  failedChecks: [],
  materializations: {},
  alert: { status: 'pending', attempts: 0 },
};

describe('alert mail: the link to the failed run (BN_CONSOLE_URL)', () => {
  it('text and HTML both link to the run in the console, escaped', () => {
    const m = alertMail(
      record,
      'BottleNeck pipeline',
      'dead-letter/2026-11/x.json',
      'https://console.example/ops?a=1&b=2',
    );
    const link = 'https://console.example/ops?a=1&b=2/#/runs/2026-11-20261202T042851-4060db';
    expect(m.text.split('\n').slice(-2)).toEqual(['', `Open the run in the console: ${link}`]);
    expect(m.html).toContain(
      `<p>Open the run in the console: <a href="${link.replace(/&/g, '&amp;')}">${link.replace(/&/g, '&amp;')}</a></p>`,
    );
  });

  it('a trailing slash is not doubled', () => {
    const m = alertMail(record, 'BottleNeck pipeline', 'k', 'https://console.example/');
    expect(m.text).toContain('https://console.example/#/runs/2026-11-20261202T042851-4060db');
  });

  it('without BN_CONSOLE_URL: no link', () => {
    const m = alertMail(record, 'BottleNeck pipeline', 'k');
    expect(m.text).not.toContain('#/runs/');
    expect(m.html).not.toContain('<a ');
    expect(m.text.split('\n').at(-1)).toBe('Nothing was published for this run.');
  });
});
