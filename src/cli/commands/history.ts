import { UserError } from '../../errors.js';
import { history } from '../../state/queries.js';
import { print, printJson, withDb, type GlobalOptions } from '../context.js';

/** `herald history kind/name`: every applied version of one object, newest first. */
export default async function historyCommand([ref]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const [kind, name] = parseRef(ref!);
  const rows = await withDb(opts, (db) => history(db, kind, name));
  if (rows.length === 0) throw new UserError(`${ref} has never been applied`, 'see what is deployed with `herald state list`');
  if (opts.json) return printJson(rows);
  print(`${ref}: ${rows.length} version${rows.length === 1 ? '' : 's'}`);
  for (const r of rows) {
    const commit = r.gitCommit ? r.gitCommit.slice(0, 12) + (r.gitCommit.endsWith('+dirty') ? '+dirty' : '') : 'no commit';
    print(`  v${r.version}  ${r.action.padEnd(7)}  ${r.appliedAt.toISOString()}  ${commit}  ${r.gitAuthor ?? ''}  ${r.hash ? r.hash.slice(0, 12) : ''}`.trimEnd());
  }
}

export function parseRef(ref: string): [string, string] {
  const m = /^(project|segment|list|template|campaign|trigger)\/([a-z0-9][a-z0-9_-]*)$/.exec(ref);
  if (!m) throw new UserError(`"${ref}" is not kind/name`, 'for example campaign/winback, segment/lapsed or template/newsletter');
  return [m[1]!, m[2]!];
}
