/** An alert email, independent of the provider. */
export interface MailMessage {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Kept with the message (SendGrid custom_args): run id, partition, stage. */
  tags?: Record<string, string>;
}

export interface SendResult {
  /** Provider message id, or the outbox file name. */
  id: string;
}

/** Sends alert mail: an outbox folder on a laptop, SendGrid in production. */
export interface Mailer {
  send(msg: MailMessage): Promise<SendResult>;
}

/** The body of SendGrid's `POST /v3/mail/send` for a message: what the outbox records, byte for byte. */
export interface SendGridPayload {
  personalizations: { to: { email: string }[] }[];
  from: { email: string };
  subject: string;
  content: { type: 'text/plain' | 'text/html'; value: string }[];
  custom_args?: Record<string, string>;
}

export function toSendGridPayload(msg: MailMessage): SendGridPayload {
  // Keys in the order @sendgrid/mail's builder writes them: the outbox file and the request body
  // are the same text.
  return {
    from: { email: msg.from },
    subject: msg.subject,
    personalizations: [{ to: msg.to.map((email) => ({ email })) }],
    content: [
      { type: 'text/plain', value: msg.text },
      { type: 'text/html', value: msg.html },
    ],
    ...(msg.tags && Object.keys(msg.tags).length ? { custom_args: msg.tags } : {}),
  };
}
