import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { initWorkspace, refreshSchemas } from '../../src/init/init.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { useCleanups } from '../support/cleanup.js';
import { repoRoot, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

function emptyDir() {
  const ws = tempWorkspace({});
  cleanup(ws.remove);
  return ws;
}

/** Every file under dir, relative, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** The YAML files of a workspace whose modeline names a schema that does not resolve from the file. */
function unresolvedModelines(dir: string): string[] {
  const yaml = ['segments', 'lists', 'templates', 'campaigns', 'triggers']
    .filter((k) => existsSync(join(dir, k)))
    .flatMap((k) => tree(join(dir, k)).map((f) => `${k}/${f}`))
    .filter((f) => f.endsWith('.yaml'));
  return ['herald.yaml', ...yaml]
    .filter((f) => {
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(join(dir, f), 'utf8').split('\n')[0]!);
      return !m || !existsSync(resolve(dirname(join(dir, f)), m[1]!));
    });
}

describe('herald init', () => {
  it('scaffolds a workspace that validates, with one example of every kind', async () => {
    const target = join(emptyDir().dir, 'new', 'shop-emails');
    const r = initWorkspace(target);
    expect(r.dir).toBe(target);
    expect(r.kept).toEqual([]);
    expect(tree(target)).toEqual(r.created);
    expect(r.created).toEqual(
      expect.arrayContaining([
        'herald.yaml',
        'segments/lapsed.yaml',
        'lists/fair-visitors.yaml',
        'lists/fair-visitors.csv',
        'templates/hello/template.yaml',
        'templates/hello/en.mjml',
        'templates/_partials/footer.mjml',
        'campaigns/spring-news.yaml',
        'triggers/welcome.yaml',
        '.vscode/settings.json',
        '.vscode/extensions.json',
        '.gitignore',
        'README.md',
        '.github/workflows/herald-pr.yml',
        '.github/workflows/herald-apply.yml',
        '.github/workflows/herald-tick.yml',
      ]),
    );

    const { workspace, problems } = await validateWorkspace(target);
    expect(problems).toEqual([]);
    expect([workspace!.segments.size, workspace!.lists.size, workspace!.templates.size, workspace!.partials.size, workspace!.campaigns.size, workspace!.triggers.size]).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('pins herald by its action in every workflow, needs no package.json, copies the schemas the modelines point at, and ignores .herald/', () => {
    const target = join(emptyDir().dir, 'My Shop Emails');
    initWorkspace(target);
    const ours = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(existsSync(join(target, 'package.json'))).toBe(false);
    for (const w of ['herald-pr.yml', 'herald-apply.yml', 'herald-tick.yml']) {
      const uses = [...readFileSync(join(target, '.github/workflows', w), 'utf8').matchAll(/uses: (herald-crm\/herald@\S+)/g)].map((m) => m[1]);
      expect(uses.length, w).toBeGreaterThan(0);
      expect(new Set(uses), w).toEqual(new Set([`herald-crm/herald@v${ours.version}`]));
    }
    expect(readFileSync(join(target, 'README.md'), 'utf8')).toContain(`npm install --global github:herald-crm/herald#v${ours.version}`);
    for (const f of readdirSync(join(repoRoot, 'schemas'))) {
      expect(readFileSync(join(target, 'schemas', f), 'utf8'), f).toBe(readFileSync(join(repoRoot, 'schemas', f), 'utf8'));
    }
    expect(unresolvedModelines(target)).toEqual([]);
    expect(readFileSync(join(target, '.gitignore'), 'utf8')).toMatch(/^\.herald\/$/m);
  });

  it('pins the action to the tag or commit asked for, and refuses what is not owner/repo@ref', () => {
    const target = join(emptyDir().dir, 'ws');
    const sha = 'a'.repeat(40);
    initWorkspace(target, { action: `our-org/herald@${sha}` });
    expect(readFileSync(join(target, '.github/workflows/herald-tick.yml'), 'utf8')).toContain(`uses: our-org/herald@${sha}\n`);
    expect(readFileSync(join(target, 'README.md'), 'utf8')).toContain(`npm install --global github:our-org/herald#${sha}`);
    const other = join(emptyDir().dir, 'ws');
    expect(() => initWorkspace(other, { action: 'herald\n  run: curl evil' })).toThrow(/is not owner\/repo@ref/);
    expect(existsSync(other) && readdirSync(other).length).toBeFalsy();
  });

  it('--schemas copies the schemas into an existing workspace again, and refuses where there is none', () => {
    const target = join(emptyDir().dir, 'ws');
    initWorkspace(target);
    writeFileSync(join(target, 'schemas', 'campaign.schema.json'), '{"old": true}\n');
    const r = refreshSchemas(target);
    expect(r.written).toContain('schemas/campaign.schema.json');
    expect(readFileSync(join(target, 'schemas', 'campaign.schema.json'), 'utf8')).toBe(readFileSync(join(repoRoot, 'schemas', 'campaign.schema.json'), 'utf8'));
    expect(() => refreshSchemas(emptyDir().dir)).toThrow(/has no herald\.yaml/);
  });

  it('writes the same editor settings as the repository keeps for its own workspace', () => {
    const target = join(emptyDir().dir, 'ws');
    initWorkspace(target);
    for (const f of ['.vscode/settings.json', '.vscode/extensions.json']) {
      expect(JSON.parse(readFileSync(join(target, f), 'utf8')), f).toEqual(JSON.parse(readFileSync(join(repoRoot, f), 'utf8')));
    }
  });

  it('refuses to overwrite a herald.yaml, and writes nothing', () => {
    const { dir } = emptyDir();
    writeFileSync(join(dir, 'herald.yaml'), 'sites: []\n');
    expect(() => initWorkspace(dir)).toThrow(UserError);
    expect(() => initWorkspace(dir)).toThrow(/already has a herald\.yaml/);
    expect(tree(dir)).toEqual(['herald.yaml']);
    expect(readFileSync(join(dir, 'herald.yaml'), 'utf8')).toBe('sites: []\n');
  });

  it('fills an existing repository, keeping its files and adding .herald/ to its .gitignore', async () => {
    const { dir } = emptyDir();
    writeFileSync(join(dir, 'README.md'), '# Our emails\n');
    writeFileSync(join(dir, '.gitignore'), 'node_modules/');
    const r = initWorkspace(dir);
    expect(r.kept).toEqual(['.gitignore', 'README.md']);
    expect(r.created).not.toContain('README.md');
    expect(r.gitignoreUpdated).toBe(true);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# Our emails\n');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/^node_modules\/\n(#.*\n)?\.herald\/\n$/);
    expect(tree(dir).filter((f) => f.startsWith('.herald-init-'))).toEqual([]);
    expect((await validateWorkspace(dir)).problems).toEqual([]);
  });

  it('leaves nothing behind when it fails midway', () => {
    const { dir } = emptyDir();
    // A file where the scaffold needs a folder: the move into place fails after
    // earlier files (herald.yaml among them) were already moved.
    writeFileSync(join(dir, 'segments'), 'not a folder\n');
    expect(() => initWorkspace(dir)).toThrow(UserError);
    expect(tree(dir)).toEqual(['segments']);
    expect(readdirSync(dir)).toEqual(['segments']);
  });

});

describe('the example workspace', () => {
  it('names its schema on the first line of every YAML file, by a path that resolves', () => {
    expect(unresolvedModelines(repoRoot)).toEqual([]);
  });
});
