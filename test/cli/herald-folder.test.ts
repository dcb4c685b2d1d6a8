import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbSpec, heraldPath } from '../../src/cli/context.js';
import { UserError } from '../../src/errors.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { exampleWorkspace, MINIMAL, tempWorkspace } from '../support/workspace.js';

/**
 * The workspace's .herald folder (embedded database, outbox, preview): a pull
 * request can commit a link there, and herald must not follow it out of the
 * workspace to write, or to delete.
 */
const cleanup = useCleanups();

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'herald-outside-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function workspace() {
  const ws = tempWorkspace(MINIMAL);
  cleanup(ws.remove);
  return ws;
}

describe('heraldPath', () => {
  it('gives .herald/<part> in the workspace, made or not', () => {
    const ws = workspace();
    expect(heraldPath({ dir: ws.dir }, 'outbox')).toBe(join(ws.dir, '.herald', 'outbox'));
    mkdirSync(join(ws.dir, '.herald', 'db'), { recursive: true });
    expect(heraldPath({ dir: ws.dir }, 'db')).toBe(join(ws.dir, '.herald', 'db'));
    // A link that stays inside the workspace is still a link: refused like any other.
    symlinkSync(join(ws.dir, 'templates'), join(ws.dir, '.herald', 'preview'));
    expect(() => heraldPath({ dir: ws.dir }, 'preview')).toThrow('.herald/preview in the workspace is a symbolic link');
  });

  it('refuses a .herald, or a .herald/<part>, that is a link out of the workspace, or a .herald that is a file', () => {
    for (const linked of ['.herald', '.herald/db', '.herald/outbox', '.herald/preview']) {
      const ws = workspace();
      mkdirSync(join(ws.dir, '.herald'), { recursive: true });
      if (linked === '.herald') rmSync(join(ws.dir, '.herald'), { recursive: true });
      symlinkSync(scratch(), join(ws.dir, linked));
      for (const part of ['db', 'outbox', 'preview'] as const) {
        if (linked !== '.herald' && linked !== `.herald/${part}`) {
          expect(heraldPath({ dir: ws.dir }, part)).toBe(join(ws.dir, '.herald', part));
          continue;
        }
        let error: unknown;
        try {
          heraldPath({ dir: ws.dir }, part);
        } catch (e) {
          error = e;
        }
        expect(error, `${linked} ${part}`).toBeInstanceOf(UserError);
        expect((error as UserError).message).toBe(`${linked} in the workspace is a symbolic link (${join(ws.dir, linked)}); herald keeps its own state there and follows no link out of it`);
        expect((error as UserError).hint).toContain('remove the link');
      }
    }
    const ws = workspace();
    writeFileSync(join(ws.dir, '.herald'), 'not a folder');
    expect(() => heraldPath({ dir: ws.dir }, 'outbox')).toThrow(`.herald in the workspace is not a folder (${join(ws.dir, '.herald')})`);
  });

  it('is where the embedded database is opened: a linked .herald is refused before anything opens it', () => {
    const ws = workspace();
    const outside = scratch();
    mkdirSync(join(outside, 'db'));
    symlinkSync(outside, join(ws.dir, '.herald'));
    const saved = process.env.HERALD_DATABASE_URL;
    delete process.env.HERALD_DATABASE_URL;
    try {
      expect(() => dbSpec({ dir: ws.dir })).toThrow('.herald in the workspace is a symbolic link');
    } finally {
      if (saved !== undefined) process.env.HERALD_DATABASE_URL = saved;
    }
  });
});

describe('the outbox', () => {
  it('herald test-send writes no message through a linked .herald or .herald/outbox', async () => {
    for (const linked of ['.herald', '.herald/outbox']) {
      const ws = exampleWorkspace();
      cleanup(ws.remove);
      const outside = scratch();
      mkdirSync(join(ws.dir, '.herald'), { recursive: true });
      if (linked === '.herald') rmSync(join(ws.dir, '.herald'), { recursive: true });
      symlinkSync(outside, join(ws.dir, linked));
      const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SECRET: 'x'.repeat(32) });
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toContain(`${linked} in the workspace is a symbolic link`);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(readdirSync(outside)).toEqual([]);
    }
  });

  it('herald demo --fresh clears no outbox through a linked .herald', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const outside = scratch();
    mkdirSync(join(outside, 'outbox'));
    writeFileSync(join(outside, 'outbox', 'keep.eml'), 'keep me');
    symlinkSync(outside, join(ws.dir, '.herald'));
    const r = await herald(['demo', '--fresh', '--customers', '10', '--dir', ws.dir, '--db', join(scratch(), 'db')]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toContain('.herald in the workspace is a symbolic link');
    expect(readdirSync(join(outside, 'outbox'))).toEqual(['keep.eml']);
  });
});
