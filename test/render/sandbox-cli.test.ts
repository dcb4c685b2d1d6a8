import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { exampleWorkspace } from '../support/workspace.js';
import { ESCAPES, MARK, SECRET } from './escapes.js';

/**
 * The report, through the CLI: a template body with every known
 * escape, validated and previewed with HERALD_SECRET set. Nothing may run,
 * and the secret may appear nowhere: not on stdout or stderr, not in a
 * preview file.
 */

const cleanup = useCleanups();
afterEach(() => rmSync(MARK, { force: true }));

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));
}

it('validate refuses each escape where it is written, and preview stops before rendering; the secret shows nowhere', async () => {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  const file = 'templates/newsletter/en.mjml';
  const original = readFileSync(join(ws.dir, file), 'utf8');
  const at = original.indexOf('<mj-text>{{ greeting }}</mj-text>');
  const line = original.slice(0, at).split('\n').length;
  // One escape per line, each in its own <mj-text>, in place of the greeting.
  ws.write(file, original.replace('<mj-text>{{ greeting }}</mj-text>', ESCAPES.map((e) => `<mj-text>${e.template}</mj-text>`).join('\n')));
  const env = { HERALD_SECRET: SECRET };

  const validate = await herald(['validate', '--dir', ws.dir, '--json'], env);
  const out = join(ws.dir, 'preview-out');
  const preview = await herald(['preview', '--dir', ws.dir, '--out', out], env);

  for (const r of [validate, preview]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  for (const f of filesUnder(ws.dir)) expect(readFileSync(f, 'utf8'), f).not.toContain(SECRET);
  expect(existsSync(MARK), 'the template ran code').toBe(false);

  expect(validate.code, validate.stderr).toBe(1);
  const { errors } = JSON.parse(validate.stdout) as { errors: { file: string; line: number; rule: string }[] };
  ESCAPES.forEach((e, i) => {
    expect(errors.some((p) => p.file === file && p.line === line + i), `${e.name} (line ${line + i}) is not reported`).toBe(true);
  });
  expect(preview.code).toBe(1);
  expect(preview.stderr).toContain(`${file}:${line}:`);
});
