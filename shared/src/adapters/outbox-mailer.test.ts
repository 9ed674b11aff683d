import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SendGridPayload } from '../ports/mailer.js';
import { mailerContract } from '../testing/contracts/mailer.js';
import { OutboxMailer } from './outbox-mailer.js';

async function readOutbox(dir: string): Promise<SendGridPayload[]> {
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as SendGridPayload));
}

mailerContract(
  'OutboxMailer',
  async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'bn-outbox-')), 'outbox');
    return {
      mailer: new OutboxMailer(dir),
      sent: () => readOutbox(dir),
      cleanup: () => rm(join(dir, '..'), { recursive: true, force: true }),
    };
  },
  { timeoutMs: 5_000 },
);

describe('OutboxMailer (adapter-specific)', () => {
  it('writes one file per message, named by its id, holding the SendGrid body byte for byte, and no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-outbox-'));
    const mailer = new OutboxMailer(dir, () => new Date('2026-03-04T05:06:07.089Z'));
    const { id } = await mailer.send({
      to: ['a@x.example'],
      from: 'p@x.example',
      subject: 's',
      text: 't',
      html: 'h',
      tags: { runId: 'r1' },
    });
    expect(id).toMatch(/^2026-03-04T05-06-07-089Z-[0-9a-f]{8}$/);
    expect(await readdir(dir)).toEqual([`${id}.json`]);
    expect(await readFile(join(dir, `${id}.json`), 'utf8')).toBe(
      '{\n  "from": {\n    "email": "p@x.example"\n  },\n  "subject": "s",\n' +
        '  "personalizations": [\n    {\n      "to": [\n        {\n          "email": "a@x.example"\n        }\n      ]\n    }\n  ],\n' +
        '  "content": [\n    {\n      "type": "text/plain",\n      "value": "t"\n    },\n' +
        '    {\n      "type": "text/html",\n      "value": "h"\n    }\n  ],\n  "custom_args": {\n    "runId": "r1"\n  }\n}\n',
    );
    await rm(dir, { recursive: true, force: true });
  });
});
