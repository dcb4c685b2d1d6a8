import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { gitUser } from '../../git/commit.js';
import { erasePerson } from '../../privacy/erase.js';
import { formatErasure, formatRecord } from '../../privacy/format.js';
import { findPerson, parsePerson } from '../../privacy/person.js';
import { personRecord } from '../../privacy/record.js';
import { sourceSchema, type Project } from '../../workspace/model.js';
import { readYaml } from '../../workspace/source.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

/**
 * `herald customer show|export|erase <id|email>`: what herald holds about a
 * person, as text or as JSON, and erasing it (docs/privacy.md).
 */
interface CustomerOptions extends GlobalOptions {
  json?: boolean;
  out?: string;
  yes?: boolean;
}

export async function show([who]: string[], opts: CustomerOptions): Promise<void> {
  const given = parsePerson(who!);
  const record = await withDb(opts, async (db) => personRecord(db, await findPerson(db, shopSchema(opts), given)));
  if (opts.json) return printJson(record);
  print(formatRecord(record));
}

export async function exportRecord([who]: string[], opts: CustomerOptions): Promise<void> {
  const given = parsePerson(who!);
  const record = await withDb(opts, async (db) => personRecord(db, await findPerson(db, shopSchema(opts), given)));
  const json = `${JSON.stringify({ exported_at: new Date().toISOString(), ...record }, null, 2)}\n`;
  if (!opts.out) return print(json);
  // Personal data: readable by its owner only.
  writeFileSync(resolve(opts.out), json, { mode: 0o600 });
  print(`wrote ${opts.out}: ${record.messages.length} messages, ${record.events.length} events, ${record.suppressions.length} suppressions`);
}

export async function erase([who]: string[], opts: CustomerOptions): Promise<void> {
  const given = parsePerson(who!);
  if (!opts.yes) {
    // Without --yes, say what would go, and change nothing.
    const record = await withDb(opts, async (db) => personRecord(db, await findPerson(db, shopSchema(opts), given)));
    print(formatRecord(record));
    throw new UserError('herald customer erase changes nothing without --yes', `rerun as \`herald customer erase ${who} --yes\` to erase what is listed above`);
  }
  const erased = await withDb(opts, (db) => erasePerson(db, shopSchema(opts), given, actor(opts)));
  print(formatErasure(erased));
  if (erased.person.addresses.length === 0 && erased.messages === 0) throw new UserError(`herald holds nothing about ${who}`, 'give the address too: erasing it puts its hash on the suppression list');
}

/** The shop schema from herald.yaml when there is one; the contract's default otherwise. */
function shopSchema(opts: GlobalOptions): string {
  const dir = workspaceDir(opts);
  const project = existsSync(join(dir, 'herald.yaml')) ? (readYaml(dir, 'herald.yaml').source?.value as Project | undefined) : undefined;
  return sourceSchema(project ?? ({} as Project));
}

function actor(opts: GlobalOptions): string {
  return gitUser(workspaceDir(opts)) ?? process.env.USER ?? 'unknown';
}
