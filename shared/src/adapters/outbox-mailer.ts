import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toSendGridPayload, type MailMessage, type Mailer, type SendResult } from '../ports/mailer.js';

/**
 * The mailer as an outbox folder: each message becomes one JSON file holding exactly the body
 * SendGrid's `POST /v3/mail/send` would receive.
 */
export class OutboxMailer implements Mailer {
  constructor(
    readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async send(msg: MailMessage): Promise<SendResult> {
    await mkdir(this.dir, { recursive: true });
    const id = `${this.now().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
    const tmp = join(this.dir, `.${id}.tmp`);
    await writeFile(tmp, JSON.stringify(toSendGridPayload(msg), null, 2) + '\n');
    await rename(tmp, join(this.dir, `${id}.json`));
    return { id };
  }
}
