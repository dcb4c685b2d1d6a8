import { UserError } from '../../errors.js';
import { gitUser } from '../../git/commit.js';
import { setOverride, clearOverride, type OverrideStatus } from '../../state/overrides.js';
import { loadDeployed } from '../../state/queries.js';
import { runPhase } from '../../ledger/runs.js';
import { print, withDb, workspaceDir, type GlobalOptions } from '../context.js';

type Verb = 'pause' | 'resume' | 'cancel';
const STATUS: Record<'campaign' | 'trigger', Record<Verb, OverrideStatus | undefined>> = {
  campaign: { pause: 'paused', resume: 'ready', cancel: 'cancelled' },
  // A trigger has no end to cancel: pausing it is how it stops.
  trigger: { pause: 'paused', resume: 'active', cancel: undefined },
};

/**
 * Emergency commands: change a deployed campaign's or trigger's status
 * outside git, with who and why on record. The next plan shows it as drift,
 * and apply keeps it until the source's file itself changes. A name that is
 * both a campaign and a trigger is given as campaign/<name> or trigger/<name>.
 */
export function control(verb: Verb) {
  return async ([ref]: string[], opts: GlobalOptions & { reason?: string }): Promise<void> => {
    if (!opts.reason?.trim()) throw new UserError(`herald ${verb} needs --reason`, `say why, e.g. --reason "wrong price in the subject"`);
    const actor = gitUser(workspaceDir(opts)) ?? process.env.USER ?? 'unknown';
    const [wantKind, name] = ref!.includes('/') ? (ref!.split('/', 2) as [string, string]) : [undefined, ref!];
    const message = await withDb(opts, (db) =>
      db.transaction(async (tx) => {
        const found = (await loadDeployed(tx)).filter((d) => (d.kind === 'campaign' || d.kind === 'trigger') && d.name === name && !d.archivedAt && (!wantKind || d.kind === wantKind));
        if (found.length === 0) throw new UserError(`no campaign or trigger "${name}" is deployed`, 'see what is deployed with `herald state list`');
        if (found.length > 1) throw new UserError(`"${name}" is both a campaign and a trigger`, `say which: campaign/${name} or trigger/${name}`);
        const o = found[0]!;
        const kind = o.kind as 'campaign' | 'trigger';
        const status = STATUS[kind][verb];
        if (!status) throw new UserError(`a trigger cannot be cancelled`, `pause it: \`herald pause ${name} --reason …\``);
        if ((await runPhase(tx, { kind, name })) === 'completed') throw new UserError(`${kind} "${name}" has completed; there is nothing to ${verb}`);
        const gitStatus = String(o.spec.status ?? (kind === 'campaign' ? 'draft' : 'paused'));
        // Resuming to what git says is no drift at all: the override goes.
        if (status === gitStatus) {
          await clearOverride(tx, kind, name, actor);
          return `${kind} ${name} is ${gitStatus}, as its file says.`;
        }
        await setOverride(tx, { kind, name, status, reason: opts.reason!.trim(), actor, specHash: o.hash, action: verb });
        return `${kind} ${name} is now ${status} (git says ${gitStatus}); recorded as drift by ${actor}.`;
      }),
    );
    print(message);
  };
}

export const pause = control('pause');
export const resume = control('resume');
export const cancel = control('cancel');
