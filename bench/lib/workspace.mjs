// The workspace a bench launches from: the repository's herald.yaml and
// templates in a temporary folder, with the bench's own segments and
// campaigns; and its deployment, as `herald apply` would.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { applyPlan } from '../../dist/apply/apply.js';
import { makePlan } from '../../dist/plan/make.js';
import { loadWorkspace } from '../../dist/workspace/load.js';

const root = join(import.meta.dirname, '..', '..');

/** A temporary workspace: the repository's project and templates, and `files` (path → text) beside them. */
export function benchWorkspace(prefix, files) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  for (const part of ['herald.yaml', 'templates']) cpSync(join(root, part), join(dir, part), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Loads the workspace (a bench's own must be valid) and applies it; returns the workspace. */
export async function deployWorkspace(db, dir, now, holder, beforeApply = async () => {}) {
  const { workspace: ws, problems } = loadWorkspace(dir);
  const errors = problems.filter((p) => p.severity === 'error');
  if (!ws || errors.length) throw new Error(`the bench workspace does not load: ${errors.map((p) => `${p.file}: ${p.message}`).join('; ')}`);
  await beforeApply(ws);
  const plan = await makePlan(db, ws, { now });
  await applyPlan(db, plan, { gitCommit: null, gitAuthor: null, holder, workspaceDir: dir });
  return ws;
}
