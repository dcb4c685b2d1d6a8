import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { packageName } from '../../src/init/files.js';
import { initWorkspace } from '../../src/init/init.js';
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
        'package.json',
        'README.md',
      ]),
    );

    const { workspace, problems } = await validateWorkspace(target);
    expect(problems).toEqual([]);
    expect([workspace!.segments.size, workspace!.lists.size, workspace!.templates.size, workspace!.partials.size, workspace!.campaigns.size, workspace!.triggers.size]).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('pins herald, copies the schemas the modelines point at, and ignores .herald/', () => {
    const target = join(emptyDir().dir, 'My Shop Emails');
    initWorkspace(target);
    const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
    const ours = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'my-shop-emails', private: true, dependencies: { herald: `^${ours.version}` } });
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['validate', 'plan']));
    for (const f of readdirSync(join(repoRoot, 'schemas'))) {
      expect(readFileSync(join(target, 'schemas', f), 'utf8'), f).toBe(readFileSync(join(repoRoot, 'schemas', f), 'utf8'));
    }
    expect(unresolvedModelines(target)).toEqual([]);
    expect(readFileSync(join(target, '.gitignore'), 'utf8')).toMatch(/^\.herald\/$/m);
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

  it('derives an npm package name from the folder name', () => {
    expect(packageName('Shop Emails!')).toBe('shop-emails');
    expect(packageName('crm.emails')).toBe('crm.emails');
    expect(packageName('...')).toBe('herald-workspace');
  });
});

describe('the example workspace', () => {
  it('names its schema on the first line of every YAML file, by a path that resolves', () => {
    expect(unresolvedModelines(repoRoot)).toEqual([]);
  });
});
