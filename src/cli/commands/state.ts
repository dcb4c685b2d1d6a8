import { stringify } from 'yaml';
import { UserError } from '../../errors.js';
import { loadDeployed, lastApply } from '../../state/queries.js';
import { allOverrides } from '../../state/overrides.js';
import { allRuns } from '../../ledger/runs.js';
import { print, printJson, withDb, type GlobalOptions } from '../context.js';
import { objectRef } from '../options.js';

/** `herald state list` and `herald state show kind/name`: what is deployed, read from the database. */
export default async function state([sub, ref]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  if (sub === 'list') return list(opts);
  if (sub === 'show' && ref) return show(ref, opts);
  throw new UserError(`unknown state command "${[sub, ref].filter(Boolean).join(' ')}"`, 'use `herald state list` or `herald state show kind/name`');
}

async function list(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const { objects, last, overrides, runs } = await withDb(opts, async (db) => ({
    objects: await loadDeployed(db),
    last: await lastApply(db),
    overrides: new Map((await allOverrides(db)).map((r) => [`${r.kind}/${r.name}`, r])),
    runs: new Map((await allRuns(db)).map((r) => [`${r.kind}/${r.name}`, r])),
  }));
  const rows = objects.map((o) => ({
    object: `${o.kind}/${o.name}`,
    version: o.version,
    commit: o.gitCommit,
    appliedAt: o.appliedAt.toISOString(),
    ...(o.archivedAt ? { archived: true } : {}),
    ...(o.kind === 'campaign' || o.kind === 'trigger'
      ? {
          status: String(o.spec.status ?? (o.kind === 'campaign' ? 'draft' : 'paused')),
          // A trigger's run never completes: it is "sweeping" from the moment it was first enabled.
          phase: o.kind === 'trigger' ? (runs.has(`trigger/${o.name}`) ? `sweeping since ${runs.get(`trigger/${o.name}`)!.enabledAt?.toISOString() ?? '?'}` : null) : (runs.get(`campaign/${o.name}`)?.phase ?? null),
          override: overrides.get(`${o.kind}/${o.name}`)?.status ?? null,
        }
      : {}),
  }));
  if (opts.json) return printJson({ lastApply: last ?? null, objects: rows });
  print(last ? `Last apply #${last.id} at ${last.appliedAt.toISOString()} from ${last.gitCommit ?? 'no commit'}${last.appliedBy ? ` by ${last.appliedBy}` : ''}.` : 'Nothing applied yet.');
  for (const r of rows) {
    const extra = 'status' in r ? `  ${r.override ? `${r.override} (override; git: ${r.status})` : r.status}${r.phase ? `, ${r.phase}` : ''}` : '';
    print(`  ${r.object.padEnd(36)} v${String(r.version).padEnd(4)} ${(r.commit ?? '').slice(0, 12).padEnd(12)}${r.archived ? '  archived' : ''}${extra}`);
  }
}

async function show(ref: string, opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const [kind, name] = objectRef(ref);
  const o = await withDb(opts, async (db) => (await loadDeployed(db)).find((d) => d.kind === kind && d.name === name));
  if (!o) throw new UserError(`${ref} is not deployed`, 'see what is deployed with `herald state list`');
  if (opts.json) return printJson(o);
  print(`# ${ref} v${o.version}, applied ${o.appliedAt.toISOString()} from ${o.gitCommit ?? 'no commit'}${o.archivedAt ? `, archived ${o.archivedAt.toISOString()}` : ''}`);
  print(stringify(o.spec, { lineWidth: 0 }));
}
