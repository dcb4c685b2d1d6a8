import { readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { Db } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import type { Log } from '../log.js';
import type { Project } from '../workspace/model.js';
import { createTrackingServer, listen } from '../http/server.js';
import { applyFeedback, type FeedbackSummary } from '../events/feedback.js';
import { readFeedback } from '../events/match.js';

/**
 * The demo's customers answer a campaign, through herald's real parts: they
 * open the messages in the demo's outbox and click their links against a
 * tracking server (`herald serve`, in process, on 127.0.0.1), some mail
 * clients only prefetch (Apple Mail Privacy Protection) and a security
 * gateway follows every link first; a few one-click unsubscribe; a mailbox
 * that no longer exists and a complaint come back as a DSN and an ARF
 * report, read as `herald bounces import` reads them; and some customers,
 * clickers more than others, then order in the shop. Who does what is a
 * hash of the ledger id: the same every run.
 */
export interface Responses {
  read: number;
  opens: { human: number; mpp: number };
  clicks: { human: number; scanner: number };
  unsubscribed: number;
  feedback: FeedbackSummary;
  orders: { clickers: number; others: number };
}

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
/** Apple's Mail Privacy Protection fetches every image with this bare agent. */
const APPLE_MPP = 'Mozilla/5.0';
const GATEWAY = 'Mozilla/5.0 (compatible; proofpoint-url-scanner/1.0)';

export async function customersRespond(
  db: Db,
  o: { project: Project; secrets: string[]; outbox: string; campaign: string; schema: string; from: Date; log: Log },
): Promise<Responses | undefined> {
  const folder = join(o.outbox, o.campaign);
  let files: string[];
  try {
    files = readdirSync(folder).filter((f) => /^\d+\.eml$/.test(f));
  } catch {
    return undefined; // sent over SMTP: nothing here to read
  }
  // Responses come once: a second run of the demo finds them recorded.
  const [done] = await db.query("INSERT INTO herald.settings (key, value) VALUES ($1, 'done') ON CONFLICT (key) DO NOTHING RETURNING key", [`demo_responses_${o.campaign}`]);
  if (!done) return undefined;

  files.sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  let now = new Date(o.from);
  const server = await createTrackingServer({ db, project: o.project, secrets: o.secrets, log: o.log, clock: () => now });
  const r: Responses = { read: 0, opens: { human: 0, mpp: 0 }, clicks: { human: 0, scanner: 0 }, unsubscribed: 0, feedback: undefined!, orders: { clickers: 0, others: 0 } };
  const reports: string[] = [];
  try {
    const local = await listen(server, { port: 0, host: '127.0.0.1' });
    const base = o.project.tracking.base_url.replace(/\/+$/, '');
    const visit = (url: string, ua: string, init: RequestInit = {}) =>
      fetch(local + url.slice(base.length), { redirect: 'manual', ...init, headers: { 'user-agent': ua, ...init.headers } }).then((res) => res.arrayBuffer().then(() => res.status));

    for (const file of files) {
      const id = parseInt(file, 10);
      const raw = readFileSync(join(folder, file));
      const mail = await simpleParser(raw);
      const html = typeof mail.html === 'string' ? mail.html : '';
      const links = [...new Set([...html.matchAll(/href="([^"]+\/c\/[^"]+)"/g)].map((m) => m[1]!))].filter((l) => l.startsWith(base));
      const pixel = /<img src="([^"]+\/o\/[^"]+)"/.exec(html)?.[1];
      const u = chance(id);
      // Time passes as the messages are read, fifteen seconds apart.
      now = new Date(o.from.getTime() + r.read * 15_000);
      r.read++;

      if (u < 0.004) {
        reports.push(dsn(raw.toString('utf8'), mail.to && 'text' in mail.to ? mail.to.text : '', now));
        continue;
      }
      if (u < 0.005) {
        reports.push(arf(raw.toString('utf8'), now));
        continue;
      }
      // A security gateway follows every link of some messages before the customer sees them.
      if (chance(id, 'gateway') < 0.1) {
        for (const l of links) if ((await visit(l, GATEWAY, { method: 'HEAD' })) === 302) r.clicks.scanner++;
      }
      const open = chance(id, 'open');
      if (pixel && open < 0.12) {
        if ((await visit(pixel, APPLE_MPP)) === 200) r.opens.mpp++;
      } else if (pixel && open < 0.42) {
        if ((await visit(pixel, GMAIL_PROXY)) === 200) r.opens.human++;
        if (chance(id, 'click') < 0.3 && links.length > 0) {
          const link = links[Math.floor(chance(id, 'which') * links.length)]!;
          if ((await visit(link, BROWSER)) === 302) r.clicks.human++;
        }
      }
      const unsubscribe = /<(https:[^>]+)>/.exec(mail.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '')?.[1];
      if (unsubscribe && chance(id, 'unsubscribe') < 0.006) {
        if ((await visit(unsubscribe, BROWSER, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) })) === 200) r.unsubscribed++;
      }
    }
  } finally {
    await server.close();
  }

  const feedback = await Promise.all(reports.map((text, i) => readFeedback(text, `demo report ${i + 1}`, o.secrets, 'import')));
  r.feedback = await applyFeedback(db, o.project, feedback, { clock: () => now });
  r.orders = await customersOrder(db, o.schema, o.campaign, o.from);
  return r;
}

/**
 * Orders after the campaign: a quarter of the customers who clicked order
 * within hours of their click; besides, 3% of the whole audience, those
 * held out as the control group included, order within a day whatever the
 * campaign did. One statement; ids after the shop's last order.
 */
async function customersOrder(db: Db, schema: string, campaign: string, from: Date): Promise<{ clickers: number; others: number }> {
  const s = quoteIdent(schema);
  const [row] = await db.query<{ clickers: number; others: number }>(
    `WITH base AS (SELECT coalesce(max(id), 0) AS id FROM ${s}.orders),
     clicked AS (
       SELECT m.customer_id, m.site, min(e.at) AS at
         FROM herald.message_events e JOIN herald.messages m ON m.id = e.message_id
        WHERE m.source_kind = 'campaign' AND m.source = $1 AND e.kind = 'click' AND e.class = 'human'
        GROUP BY m.customer_id, m.site),
     buyers AS (
       SELECT customer_id, site, at + make_interval(mins => (30 + (customer_id * 37) % 300)::int) AS at, true AS clicked
         FROM clicked WHERE (customer_id * 2654435761) % 100 < 25
       UNION ALL
       SELECT m.customer_id, m.site, $2::timestamptz + make_interval(mins => ((m.customer_id * 7919) % 1440)::int), false
         FROM herald.messages m
        WHERE m.source_kind = 'campaign' AND m.source = $1 AND m.status IN ('sent', 'control') AND m.customer_id IS NOT NULL
          AND (m.customer_id * 40503) % 100 < 3
          AND m.customer_id NOT IN (SELECT customer_id FROM clicked)),
     numbered AS (SELECT b.*, row_number() OVER (ORDER BY b.customer_id, b.clicked) AS k FROM buyers b),
     added AS (
       INSERT INTO ${s}.orders (id, customer_id, site, status, total, currency, created_at)
       SELECT base.id + n.k, n.customer_id, n.site, 'paid', 40 + (n.customer_id * 131) % 260,
              (SELECT c.currency FROM ${s}.orders c WHERE c.site = n.site LIMIT 1), n.at
         FROM numbered n, base
       RETURNING id, customer_id)
     SELECT count(*) FILTER (WHERE customer_id IN (SELECT customer_id FROM clicked))::int AS clickers,
            count(*) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM clicked))::int AS others
       FROM added`,
    [campaign, from],
  );
  return row ?? { clickers: 0, others: 0 };
}

/** A number in [0, 1) from the ledger id and what it decides: the same every run. */
function chance(id: number, what = ''): number {
  return createHash('sha256').update(`${what}:${id}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** The headers of a message as it was delivered (up to its blank line). */
function headersOf(raw: string): string {
  const end = raw.search(/\r?\n\r?\n/);
  return end < 0 ? raw : raw.slice(0, end);
}

/** The DSN the recipient's server sends back to the Return-Path when the mailbox is gone (RFC 3464). */
function dsn(raw: string, to: string, at: Date): string {
  const returnPath = /^Return-Path: <([^>]+)>/m.exec(raw)?.[1] ?? '';
  return report(raw, at, {
    head: ['Return-Path: <>', 'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>', `To: ${returnPath}`, 'Subject: Undelivered Mail Returned to Sender', 'Auto-Submitted: auto-replied'],
    type: 'delivery-status',
    human: "I'm sorry to have to inform you that your message could not be delivered.",
    fields: ['Reporting-MTA: dns; mx.example.net', '', `Final-Recipient: rfc822; ${to}`, 'Action: failed', 'Status: 5.1.1', `Diagnostic-Code: smtp; 550 5.1.1 <${to}>: Recipient address rejected: User unknown`],
  });
}

/** A mailbox provider's complaint report (ARF, RFC 5965) when the recipient presses "This is spam". */
function arf(raw: string, at: Date): string {
  return report(raw, at, {
    head: ['From: Feedback Loop <fbl@mail.example.org>', 'To: fbl@shop.example.com', 'Subject: FW: complaint'],
    type: 'feedback-report',
    human: 'This is an email abuse report.',
    fields: ['Feedback-Type: abuse', 'User-Agent: demo-fbl/1.0', 'Version: 1'],
  });
}

/** A multipart/report (RFC 6522): a line for people, the machine-readable part, the original message's headers. */
function report(raw: string, at: Date, r: { head: string[]; type: 'delivery-status' | 'feedback-report'; human: string; fields: string[] }): string {
  const b = `${r.type}-${at.getTime()}`;
  return [
    ...r.head,
    `Date: ${at.toUTCString()}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=${r.type}; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    r.human,
    '',
    `--${b}`,
    `Content-Type: message/${r.type}`,
    '',
    ...r.fields,
    '',
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    headersOf(raw),
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
}
