import { execFileSync } from 'node:child_process';
import { UserError } from '../errors.js';
import { expandIncludes } from '../render/partials.js';
import type { Workspace } from '../workspace/model.js';
import type { TemplateUse } from '../workspace/uses.js';

/**
 * `preview --changed-since <ref>`: only what a pull request changed. The
 * files that differ from the ref (committed, staged, unstaged or new) decide
 * which uses of a template to render.
 */
export function changedFiles(dir: string, ref: string): string[] {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? '').trim().split('\n')[0];
      throw new UserError(`git cannot compare with "${ref}": ${stderr || (e as Error).message}`, 'pass a branch, tag or commit that exists here (in CI, fetch it first: git fetch origin main)');
    }
  };
  git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  const diffed = git(['diff', '--name-only', '--relative', ref, '--', '.']);
  const untracked = git(['ls-files', '--others', '--exclude-standard']);
  return [...new Set([...diffed.split('\n'), ...untracked.split('\n')].map((f) => f.trim()).filter(Boolean))].sort();
}

/**
 * Whether a use of a template is affected by the changed files: its own file,
 * its template's files (template.yaml, MJML, text parts, preview.yaml, and
 * every sms.<locale>.txt and push.<locale>.yaml, added, changed or removed),
 * a partial its template inlines, or herald.yaml (sites, brands and senders
 * touch every message).
 */
export function affectedBy(ws: Workspace, files: readonly string[]): (use: TemplateUse) => boolean {
  const changed = new Set(files);
  if (changed.has('herald.yaml')) return () => true;
  const templateFiles = new Map<string, Set<string>>();
  for (const t of ws.templates.values()) {
    const set = new Set<string>([t.source.file, `templates/${t.name}/preview.yaml`, ...Object.values(t.texts).map((x) => x.file)]);
    for (const b of Object.values(t.bodies)) for (const f of expandIncludes(b.text, b.file, ws.partials).files) set.add(f);
    templateFiles.set(t.name, set);
  }
  // An SMS or push file of a template, even one removed since the ref (the model no longer has it).
  const channelFile = /^templates\/([^/]+)\/(?:sms\.[^/]+\.txt|push\.[^/]+\.yaml)$/;
  const channelChanged = new Set(files.flatMap((f) => channelFile.exec(f)?.[1] ?? []));
  return (use) => {
    if (channelChanged.has(use.template)) return true;
    if (use.kind === 'campaign' && changed.has(`campaigns/${use.name}.yaml`)) return true;
    if (use.kind === 'trigger' && changed.has(`triggers/${use.name}.yaml`)) return true;
    return [...(templateFiles.get(use.template) ?? [])].some((f) => changed.has(f));
  };
}
