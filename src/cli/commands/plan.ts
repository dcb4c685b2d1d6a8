import { ExitError } from '../../errors.js';
import { formatPlan } from '../../plan/format.js';
import { computePlan, hasChanges } from '../../plan/plan.js';
import { desiredObjects } from '../../state/objects.js';
import { loadDeployed } from '../../state/queries.js';
import { print, printJson, useColor, validWorkspace, withDb, type GlobalOptions } from '../context.js';

export default async function plan(
  _args: string[],
  opts: GlobalOptions & { json?: boolean; detailedExitcode?: boolean },
): Promise<void> {
  const ws = await validWorkspace(opts);
  const result = await withDb(opts, async (db) => computePlan(desiredObjects(ws), await loadDeployed(db)));
  if (opts.json) printJson(result);
  else print(formatPlan(result, { color: useColor() }));
  if (opts.detailedExitcode && hasChanges(result)) throw new ExitError(2);
}
