import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, repoRoot, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

function workspace(files: Record<string, string> = {}) {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  return ws;
}

/** Bytes a terminal acts on: ESC, CR, C1 controls such as CSI (U+009B), and the bidi overrides. */
const RAW_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('herald validate', () => {
  it('reports a broken link, a link loop and a folder named x.yaml as errors, not as internal errors', async () => {
    const ws = workspace();
    mkdirSync(join(ws.dir, 'segments', 'x.yaml'));
    symlinkSync(join(ws.dir, 'gone.yaml'), join(ws.dir, 'segments', 'dangling.yaml'));
    symlinkSync('loop.yaml', join(ws.dir, 'segments', 'loop.yaml'));
    const r = await herald(['validate', '--dir', ws.dir]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('segments/x.yaml:1:1: error: segments/x.yaml is a folder, not a file\n');
    expect(r.stdout).toContain('segments/dangling.yaml:1:1: error: segments/dangling.yaml is a symbolic link to a file that does not exist\n');
    expect(r.stdout).toContain('segments/loop.yaml:1:1: error: segments/loop.yaml is a symbolic link that loops back on itself\n');
    expect(r.stdout).toMatch(/\n3 errors, 0 warnings\.\n$/);
  });

  it('prints control characters and bidi overrides from the workspace escaped, never raw', async () => {
    const ws = workspace({
      'segments/everyone.yaml': 'where:\n  order_count: { gte: 0 }\n"\\e[2J\\e[31mred\\r\\u202Egnp.exe": 1\n"\\x9b31m": 2\n',
    });
    const r = await herald(['validate', '--dir', ws.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(RAW_CONTROLS);
    expect(r.stdout).toContain('segments/everyone.yaml:3:1: error: unknown key "\\x1b[2J\\x1b[31mred\\r\\u202egnp.exe"\n');
    expect(r.stdout).toContain('segments/everyone.yaml:4:1: error: unknown key "\\x9b31m"\n');
    // JSON output keeps the data exact: JSON escapes it itself.
    const json = await herald(['validate', '--json', '--dir', ws.dir]);
    expect(JSON.parse(json.stdout).errors[0].message).toBe('unknown key "\x1b[2J\x1b[31mred\r\u202egnp.exe"');
  });

  it('points at a NUL character in a list CSV and at a NUL escape in YAML, which the database could not store', async () => {
    const ws = workspace({
      'lists/fair.yaml': 'file: fair.csv\nsite: main\n',
      'lists/fair.csv': 'email,first_name,last_name,locale,site,tags\nnewperson@example.com,Ne\u0000ll,X,en,main,bags\n',
      'segments/lapsed.yaml': 'description: "Lapsed\\0 customers"\nwhere:\n  order_count: { gte: 0 }\n',
    });
    const r = await herald(['validate', '--dir', ws.dir]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('lists/fair.csv:2:25: error: the file has a NUL character (byte 0x00) here\n');
    expect(r.stdout).toContain('segments/lapsed.yaml:1:21: error: the string has a NUL character (\\0) here\n');
    expect(r.stdout).toMatch(/\n2 errors, 0 warnings\.\n$/);
  });

  it('stops quietly when its reader goes away (herald validate | head)', async () => {
    // More problems than a pipe holds, so herald is still writing when the reader closes.
    const keys = Array.from({ length: 4000 }, (_, i) => `unknown_key_number_${i}: 1`).join('\n');
    const ws = workspace({ 'segments/everyone.yaml': `where:\n  order_count: { gte: 0 }\n${keys}\n` });
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'validate', '--dir', ws.dir], { env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(stderr).toBe('');
    expect(code).toBe(1);
  });
});
