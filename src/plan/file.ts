import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { PLAN_VERSION, type Plan } from './plan.js';
import { replaceFile } from '../workspace/files.js';

/** Saves a plan for `herald apply <file>`, replaced atomically. */
export function writePlanFile(path: string, plan: Plan): void {
  replaceFile(path, JSON.stringify(plan, null, 2) + '\n');
}

export function readPlanFile(path: string): Plan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the plan file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'save one with `herald plan --out <file>`');
  }
  let plan: Plan;
  try {
    plan = JSON.parse(text) as Plan;
  } catch (err) {
    throw new UserError(`${path} is not a plan file: ${(err as Error).message}`, 'save one with `herald plan --out <file>`');
  }
  if (!plan || typeof plan !== 'object' || !Array.isArray(plan.changes) || typeof plan.fingerprint !== 'string') {
    throw new UserError(`${path} is not a plan file`, 'save one with `herald plan --out <file>`');
  }
  if (plan.version !== PLAN_VERSION) {
    throw new UserError(`${path} is a version ${String(plan.version)} plan; this herald applies version ${PLAN_VERSION}`, 'run herald plan again with this herald');
  }
  return plan;
}
