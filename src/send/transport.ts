import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { Queryable } from '../db/db.js';
import { loadObject } from '../state/queries.js';
import type { Project } from '../workspace/model.js';
import type { ComposedMessage } from './compose.js';
import type { DkimKey } from './dkim.js';

/**
 * Where messages go: an SMTP server, or the local outbox folder. Nothing leaves
 * the machine unless HERALD_SMTP_URL says where to. Messages arrive composed
 * (compose.ts); nodemailer carries them, pooling connections and DKIM-signing
 * on the way out.
 */
/** Which ledger row a message belongs to. */
export interface MessageMeta {
  campaign: string;
  ledgerId: number | string;
}

export interface OutgoingMessage extends ComposedMessage {
  /** Signs the message when its site has a DKIM key. */
  dkim?: DkimKey;
}

export interface Transport {
  readonly description: string;
  /** Resolves with the server's reply when accepted; rejects with the error otherwise. */
  send(message: OutgoingMessage, meta: MessageMeta): Promise<{ response: string }>;
  close(): void;
}

export interface SmtpOptions {
  /** Connections kept open (delivery.smtp_pool). */
  pool?: number;
  /** Seconds of silence from the server before a conversation is given up. */
  socketTimeoutSeconds?: number;
}

export function smtpTransport(url: string, opts: SmtpOptions = {}): Transport {
  const t = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections: opts.pool ?? 5,
    socketTimeout: (opts.socketTimeoutSeconds ?? 120) * 1000,
    // Local sinks and test peers speak plain SMTP; TLS is negotiated when offered.
    tls: { rejectUnauthorized: !/^smtp:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url) },
  } as never);
  return {
    description: url.replace(/\/\/[^@/]*@/, '//***@'),
    async send(message) {
      // Whether nodemailer read the whole message: a failure after that (a
      // timeout waiting for the reply to the final ".") may be a delivery.
      let written = false;
      const raw = Readable.from([message.raw], { objectMode: false });
      raw.on('end', () => (written = true));
      try {
        const info = await t.sendMail({ ...mailOptions(message), raw });
        return { response: String(info.response) };
      } catch (err) {
        throw Object.assign(err as Error, { afterData: written });
      }
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
      const info = (await t.sendMail(mailOptions(message))) as unknown as { message: Buffer };
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

function mailOptions(m: OutgoingMessage) {
  return {
    raw: m.raw,
    envelope: m.envelope,
    ...(m.dkim ? { dkim: { domainName: m.dkim.domain, keySelector: m.dkim.selector, privateKey: m.dkim.privateKey } } : {}),
  };
}

export function transportFromEnv(outboxDir: string, opts: SmtpOptions = {}): Transport {
  const url = process.env.HERALD_SMTP_URL;
  return url ? smtpTransport(url, opts) : outboxTransport(outboxDir);
}

/** The transport for delivering the deployed workspace: its pool size from herald.yaml's delivery.smtp_pool. */
export async function deliveryTransport(db: Queryable, outboxDir: string): Promise<Transport> {
  const project = await loadObject<Project>(db, 'project', 'herald');
  const pool = project?.delivery?.smtp_pool;
  return transportFromEnv(outboxDir, pool ? { pool } : {});
}
