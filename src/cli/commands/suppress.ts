import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { addSuppression, checkReason, listSuppressions, normaliseAddress, removeSuppression, type Suppression } from '../../audience/suppressions.js';
import { UserError, printable } from '../../errors.js';
import { gitUser } from '../../git/commit.js';
import type { Project } from '../../workspace/model.js';
import { readYaml } from '../../workspace/source.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

/**
 * `herald suppress add|remove|list`: the suppression list by hand. Every
 * change is kept in herald.suppression_events with who made it and why.
 */
interface SuppressOptions extends GlobalOptions {
  site?: string;
  reason?: string;
  note?: string;
  json?: boolean;
}

/** Hand-made changes come from the command line; unsubscribes and bounces will name their own source. */
const SOURCE = 'cli';

export async function add([address]: string[], opts: SuppressOptions): Promise<void> {
  const { email, channel } = normaliseAddress(address!);
  const reason = checkReason(opts.reason ?? 'manual');
  const site = knownSite(opts);
  const { added, suppression: s } = await withDb(opts, (db) =>
    addSuppression(db, { email, site, reason, source: SOURCE, note: opts.note?.trim() || null, actor: actor(opts), channel }),
  );
  print(
    added
      ? `${email} is now suppressed for ${scope(site)} (${reason}).`
      : `${email} was already suppressed for ${scope(site)} (${s.reason}, by ${s.createdBy} at ${s.createdAt}); nothing changed.`,
  );
}

export async function remove([address]: string[], opts: SuppressOptions): Promise<void> {
  const { email } = normaliseAddress(address!);
  const note = opts.note?.trim();
  if (!note) throw new UserError('herald suppress remove needs --note', 'say why, e.g. --note "resubscribed by phone, ticket 4411"');
  const site = knownSite(opts);
  const s = await withDb(opts, (db) => removeSuppression(db, { email, site, source: SOURCE, note, actor: actor(opts) }));
  print(`${email} is no longer suppressed for ${scope(site)} (was ${s.reason} since ${s.createdAt}).`);
}

export async function list(_args: string[], opts: SuppressOptions): Promise<void> {
  const site = knownSite(opts);
  const rows = await withDb(opts, (db) => listSuppressions(db, site));
  if (opts.json) return printJson(rows);
  if (rows.length === 0) return print(site ? `Nothing is suppressed for site ${site}.` : 'Nothing is suppressed.');
  const width = Math.max(...rows.map((r) => r.email.length));
  for (const r of rows) print(line(r, width));
  print(`${rows.length} suppression${rows.length === 1 ? '' : 's'}.`);
}

function line(r: Suppression, width: number): string {
  // Rows come from unsubscribes and bounces too: what they hold is printed escaped.
  return printable(`${r.email.padEnd(width)}  ${(r.site ?? 'all sites').padEnd(9)}  ${r.reason.padEnd(12)}  ${r.createdAt}  ${r.createdBy} via ${r.source}${r.note ? `: ${r.note}` : ''}`);
}

function scope(site: string | null): string {
  return site === null ? 'all sites' : `site ${site}`;
}

function actor(opts: GlobalOptions): string {
  return gitUser(workspaceDir(opts)) ?? process.env.USER ?? 'unknown';
}

/**
 * `--site`, checked against herald.yaml's sites when there is one: a
 * misspelt site would suppress nobody, silently.
 */
function knownSite(opts: SuppressOptions): string | null {
  if (opts.site === undefined) return null;
  const dir = workspaceDir(opts);
  if (!existsSync(join(dir, 'herald.yaml'))) return opts.site;
  const ids = ((readYaml(dir, 'herald.yaml').source?.value as Project | undefined)?.sites ?? []).map((s) => s.id);
  if (!ids.includes(opts.site)) {
    throw new UserError(`site "${opts.site}" is not in herald.yaml`, ids.length ? `sites: ${ids.join(', ')}; without --site, a suppression is for all of them` : 'without --site, a suppression is for all sites');
  }
  return opts.site;
}
