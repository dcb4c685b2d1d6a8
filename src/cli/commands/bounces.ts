import { UserError, printable } from '../../errors.js';
import { applyFeedback, type Feedback, type FeedbackSummary } from '../../events/feedback.js';
import { readMailPath, splitMail, type Mail } from '../../events/mailbox.js';
import { readFeedback } from '../../events/match.js';
import { bytesToText } from '../../events/mime.js';
import { linkSecrets } from '../../links/secret.js';
import { loadObject } from '../../state/queries.js';
import type { Project } from '../../workspace/model.js';
import { print, printJson, validWorkspace, withDb, type GlobalOptions } from '../context.js';

/**
 * `herald bounces import <file|dir|->`: DSNs, complaint reports and mailto
 * unsubscribes saved from a mailbox (.eml files, a directory of them, an
 * mbox, or standard input) become ledger events and suppressions
 * (src/events/feedback.ts). Importing the same mail twice changes nothing.
 */
export default async function bounces([sub, path]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  if (sub !== 'import' || !path) throw new UserError('usage: herald bounces import <file|dir|->', 'a .eml file, an mbox file, a directory of them, or - for standard input');
  const { mails, skipped } = path === '-' ? { mails: splitMail(bytesToText(await readStdin()), '-'), skipped: [] } : readMailPath(path);
  if (mails.length === 0) throw new UserError(`${path} holds no mail`, 'give .eml files or an mbox file');
  const summary = await withDb(opts, async (db) => {
    const project = (await loadObject<Project>(db, 'project', 'herald')) ?? (await validWorkspace(opts)).project.spec;
    const secrets = await linkSecrets(db, project.tracking);
    const skips: Feedback[] = skipped.map((s) => ({ kind: 'ignored', ...s }));
    return applyFeedback(db, project, [...skips, ...mails.map((m: Mail) => readFeedback(m.raw, m.where, secrets, 'import'))]);
  });
  if (opts.json) printJson(summary);
  else print(summaryText(mails.length, summary));
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The summary as `herald bounces import` and `herald run` print it. Report text is escaped: it comes from strangers. */
export function summaryText(read: number, s: FeedbackSummary): string {
  const r = s.recorded;
  const lines = [
    `read ${read} mail${read === 1 ? '' : 's'}: ${s.matched} matched a message, ${s.unmatched.length} did not, ${s.ignored.length} ignored`,
    `recorded: ${r.bounce} bounces, ${r.soft_bounce} soft bounces, ${r.complaint} complaints, ${r.unsubscribe} unsubscribes${s.matched > r.bounce + r.soft_bounce + r.complaint + r.unsubscribe ? ' (the rest were known already)' : ''}`,
    ...s.suppressed.map((x) => `suppressed ${x.email} for ${x.site ?? 'all sites'} (${x.reason})`),
    ...s.paused.map((p) => `paused ${p.kind} ${p.name}: ${p.reason}`),
    ...s.unmatched.map((u) => `unmatched ${u.where}: ${u.why}`),
    ...s.ignored.map((u) => `ignored ${u.where}: ${u.why}`),
  ];
  return lines.map((l) => printable(l)).join('\n');
}
