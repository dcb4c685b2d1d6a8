import { UserError } from '../../errors.js';
import { history } from '../../state/queries.js';
import { print, printJson, withDb, type GlobalOptions } from '../context.js';
import { objectRef } from '../options.js';

/** `herald history kind/name`: every applied version of one object, newest first. */
export default async function historyCommand([ref]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const [kind, name] = objectRef(ref!);
  const rows = await withDb(opts, (db) => history(db, kind, name));
  if (rows.length === 0) throw new UserError(`${ref} has never been applied`, 'see what is deployed with `herald state list`');
  if (opts.json) return printJson(rows);
  print(`${ref}: ${rows.length} version${rows.length === 1 ? '' : 's'}`);
  for (const r of rows) {
    const commit = r.gitCommit ? r.gitCommit.slice(0, 12) + (r.gitCommit.endsWith('+dirty') ? '+dirty' : '') : 'no commit';
    print(`  v${r.version}  ${r.action.padEnd(7)}  ${r.appliedAt.toISOString()}  ${commit}  ${r.gitAuthor ?? ''}  ${r.hash ? r.hash.slice(0, 12) : ''}`.trimEnd());
  }
}
