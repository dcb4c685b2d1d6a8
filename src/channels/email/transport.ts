import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import nodemailer from 'nodemailer';
import DKIM from 'nodemailer/lib/dkim';
import type { Queryable } from '../../db/db.js';
import { loadObject } from '../../state/queries.js';
import type { Project } from '../../workspace/model.js';
import type { ComposedMessage } from './compose.js';
import type { DkimKey } from './dkim.js';
import { parseSmtpUrl, SmtpPool } from './smtp.js';
import { replaceFile } from '../../workspace/files.js';
import { outboxFolder } from '../outbox.js';

/**
 * Where messages go: an SMTP server, or the local outbox folder. Nothing leaves
 * the machine unless HERALD_SMTP_URL says where to. Messages arrive composed
 * (compose.ts). herald's own pipelining client carries them to SMTP servers
 * (smtp.ts says why); nodemailer signs them with DKIM and writes the outbox.
 */
/** Which ledger row a message belongs to. */
export interface MessageMeta {
  /** What it is sent for, as the outbox's folder: a campaign's name, or triggers/<name>. */
  source: string;
  ledgerId: number | string;
}

export interface OutgoingMessage extends ComposedMessage {
  /** Signs the message when its site has a DKIM key. */
  dkim?: DkimKey;
}

export interface Transport {
  readonly description: string;
  /** The outbox folder, when messages are written there instead of sent (no HERALD_SMTP_URL). */
  readonly outbox?: string;
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
  const pool = new SmtpPool(parseSmtpUrl(url), { pool: opts.pool ?? 5, socketTimeoutMs: (opts.socketTimeoutSeconds ?? 120) * 1000 });
  return {
    description: url.replace(/\/\/[^@/]*@/, '//***@'),
    async send(message) {
      const raw = message.dkim ? await dkimSigned(message.raw, message.dkim) : message.raw;
      return { response: await pool.send(message.envelope, raw) };
    },
    close() {
      pool.close();
    },
  };
}

/** The message with its DKIM-Signature header, signed by nodemailer's signer (rsa-sha256, relaxed/relaxed). */
async function dkimSigned(raw: Buffer, key: DkimKey): Promise<Buffer> {
  return buffer(new DKIM({ domainName: key.domain, keySelector: key.selector, privateKey: key.privateKey }).sign(raw));
}

/**
 * Writes each message as `<outbox>/<campaign>/<ledger id>.eml`, atomically,
 * as a mailbox would hold it: with the `Return-Path` a delivering server
 * adds from the envelope sender (the message's VERP address).
 */
export function outboxTransport(dir: string): Transport {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    description: `outbox ${dir}`,
    outbox: dir,
    async send(message, meta) {
      const info = (await t.sendMail(mailOptions(message))) as unknown as { message: Buffer };
      const folder = outboxFolder(dir, meta.source);
      const file = join(folder, `${meta.ledgerId}.eml`);
      replaceFile(file, Buffer.concat([Buffer.from(`Return-Path: <${message.envelope.from}>\r\n`), info.message]));
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
