import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';

/**
 * Where messages go: an SMTP server, or the local outbox folder. Nothing leaves
 * the machine unless HERALD_SMTP_URL says where to.
 */
/** Which ledger row a message belongs to. */
export interface MessageMeta {
  campaign: string;
  ledgerId: number;
}

export interface Transport {
  readonly description: string;
  /** Resolves with the server's reply when accepted; rejects with the error otherwise. */
  send(message: Mail.Options, meta: MessageMeta): Promise<{ response: string }>;
  close(): void;
}

export function smtpTransport(url: string, opts: { pool?: number } = {}): Transport {
  const t = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections: opts.pool ?? 5,
    // Local sinks and test peers speak plain SMTP; TLS is negotiated when offered.
    tls: { rejectUnauthorized: !/^smtp:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url) },
  } as never);
  return {
    description: url.replace(/\/\/[^@/]*@/, '//***@'),
    async send(message) {
      const info = await t.sendMail(message);
      return { response: String(info.response) };
    },
    close() {
      t.close();
    },
  };
}

/** Writes each message as `<outbox>/<campaign>/<ledger id>.eml`, atomically. */
export function outboxTransport(dir: string): Transport {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    description: `outbox ${dir}`,
    async send(message, meta) {
      const info = (await t.sendMail(message)) as unknown as { message: Buffer };
      const folder = join(dir, meta.campaign);
      mkdirSync(folder, { recursive: true });
      const file = join(folder, `${meta.ledgerId}.eml`);
      writeFileSync(`${file}.tmp`, info.message);
      renameSync(`${file}.tmp`, file);
      return { response: `250 written to ${file}` };
    },
    close() {},
  };
}

export function transportFromEnv(outboxDir: string): Transport {
  const url = process.env.HERALD_SMTP_URL;
  return url ? smtpTransport(url) : outboxTransport(outboxDir);
}
