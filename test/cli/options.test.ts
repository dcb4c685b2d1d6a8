import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, repoRoot, tempWorkspace } from '../support/workspace.js';

/** The option values every command shares, parsed in one place, and the program's own flags. */
const cleanup = useCleanups();

describe('herald --version', () => {
  it("prints package.json's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await herald([flag]);
      expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('option values', () => {
  it('refuses each bad value naming its own option and what it should be', async () => {
    const cases: [string[], string][] = [
      [['deliver', '--idle', 'soon'], 'herald: --idle "soon" is not a number of seconds\n  hint: write it as 30, 30s or 2m (more than 0, at most a day)\n'],
      [['deliver', '--idle', '0'], 'herald: --idle "0" is not a number of seconds\n  hint: write it as 30, 30s or 2m (more than 0, at most a day)\n'],
      [['deliver', '--workers', '65'], 'herald: --workers "65" is not a number of workers\n  hint: give a whole number from 1 to 64, for example --workers 4\n'],
      [['send', 'x', '--workers', '1.5'], 'herald: --workers "1.5" is not a number of workers\n  hint: give a whole number from 1 to 64, for example --workers 4\n'],
      [['run', '--budget', '8'], 'herald: --budget "8" is not a duration\n  hint: write it as 90s, 8m or 1h (more than 0)\n'],
      [['apply', '--lock-timeout', '0'], 'herald: --lock-timeout "0" is not a number of seconds\n  hint: write it as 30, 30s or 2m (more than 0, at most a day)\n'],
      [['demo', '--customers', 'lots'], 'herald: --customers "lots" is not a positive whole number\n  hint: for example --customers 10000\n'],
      [['preview', '--serve', '--port', '70000'], 'herald: --port "70000" is not a port number\n  hint: give a number from 1 to 65535, for example --port 4400, or 0 for any free port\n'],
      [['preview', '--customer', '4x'], 'herald: --customer "4x" is not a customer id\n  hint: give the shop\'s numeric customer id, for example --customer 42\n'],
      [['history', 'segments/x'], 'herald: "segments/x" is not kind/name\n  hint: for example campaign/winback, segment/lapsed or template/newsletter\n'],
      [['state', 'show', 'x'], 'herald: "x" is not kind/name\n  hint: for example campaign/winback, segment/lapsed or template/newsletter\n'],
    ];
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    for (const [args, stderr] of cases) {
      const r = await herald([...args, '--dir', ws.dir]);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 1, stderr });
    }
  }, 300_000);

  it('herald deliver --idle 120 waits two minutes between ticks, and SIGTERM still stops it at once', async () => {
    const ws = tempWorkspace(MINIMAL);
    const db = mkdtempSync(join(tmpdir(), 'herald-deliver-db-'));
    cleanup(ws.remove, () => rmSync(db, { recursive: true, force: true }));
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'deliver', '--idle', '120', '--workers', '2', '--dir', ws.dir, '--db', db], {
      env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', HERALD_SMTP_URL: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    await expect.poll(() => stderr, { timeout: 90_000, interval: 100 }).toContain('delivering until stopped');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toBe('stopped after finishing the messages in flight.\n');
  }, 300_000);
});

describe('commands', () => {
  it('never import each other: what they share lives in src/cli', () => {
    const dir = join(repoRoot, 'src', 'cli', 'commands');
    const sibling = /from '\.\/[^']+'/;
    const offenders = readdirSync(dir).filter((f) => sibling.test(readFileSync(join(dir, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('--batch', () => {
  it('takes a whole number of messages from 1 to 10000, and refuses anything else by name, before any work', async () => {
    for (const bad of ['abc', '0', '10001', '-5', '1.5', '']) {
      for (const command of [['send', 'winback'], ['run'], ['deliver']]) {
        const r = await herald([...command, '--batch', bad, '--db', 'memory://']);
        expect(r.code, `${command[0]} --batch ${bad}`).toBe(1);
        expect(r.stderr).toContain(`--batch ${JSON.stringify(bad)} is not a batch size`);
        expect(r.stderr).toContain('give a whole number of messages from 1 to 10000');
      }
    }
  });
});
