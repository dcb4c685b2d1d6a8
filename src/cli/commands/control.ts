import { UserError } from '../../errors.js';
import { gitInfo } from '../../git/commit.js';
import { setOverride, clearOverride } from '../../state/overrides.js';
import { loadDeployed } from '../../state/queries.js';
import { print, withDb, workspaceDir, type GlobalOptions } from '../context.js';

type Verb = 'pause' | 'resume' | 'cancel';
const STATUS: Record<Verb, 'paused' | 'ready' | 'cancelled'> = { pause: 'paused', resume: 'ready', cancel: 'cancelled' };

/**
 * Emergency commands: change a deployed campaign's status outside git, with
 * who and why on record. The next plan shows it as drift, and apply keeps it
 * until the campaign's file itself changes.
 */
export function control(verb: Verb) {
  return async ([campaign]: string[], opts: GlobalOptions & { reason?: string }): Promise<void> => {
    if (!opts.reason?.trim()) throw new UserError(`herald ${verb} needs --reason`, `say why, e.g. --reason "wrong price in the subject"`);
    const actor = gitInfo(workspaceDir(opts)).user ?? process.env.USER ?? 'unknown';
    const message = await withDb(opts, (db) =>
      db.transaction(async (tx) => {
        const o = (await loadDeployed(tx)).find((d) => d.kind === 'campaign' && d.name === campaign && !d.archivedAt);
        if (!o) throw new UserError(`campaign "${campaign}" is not deployed`, 'see what is deployed with `herald state list`');
        const [run] = await tx.query<{ phase: string }>('SELECT phase FROM herald.campaign_runs WHERE campaign = $1', [campaign]);
        if (run?.phase === 'completed') throw new UserError(`campaign "${campaign}" has completed; there is nothing to ${verb}`);
        const gitStatus = String(o.spec.status ?? 'draft');
        // Resuming to what git says is no drift at all: the override goes.
        if (STATUS[verb] === gitStatus) {
          await clearOverride(tx, campaign!, actor);
          return `campaign ${campaign} is ${gitStatus}, as its file says.`;
        }
        await setOverride(tx, { campaign: campaign!, status: STATUS[verb], reason: opts.reason!.trim(), actor, specHash: o.hash, action: verb });
        return `campaign ${campaign} is now ${STATUS[verb]} (git says ${gitStatus}); recorded as drift by ${actor}.`;
      }),
    );
    print(message);
  };
}

export const pause = control('pause');
export const resume = control('resume');
export const cancel = control('cancel');
