import type { Problem } from '../../errors.js';
import type { Workspace } from '../model.js';
import { semanticChecks } from './semantic.js';
import { listChecks } from './lists.js';
import { sqlChecks } from './sql.js';
import { templateChecks } from './templates.js';

/**
 * A deeper check over the loaded workspace. `failed` holds the files that
 * already have problems, so a check can skip what would only repeat them.
 */
export type Check = (ws: Workspace, failed: ReadonlySet<string>) => Problem[] | Promise<Problem[]>;

export const CHECKS: Check[] = [semanticChecks, listChecks, sqlChecks, templateChecks];
