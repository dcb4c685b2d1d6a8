/**
 * Golden files of every message the example workspace sends: each campaign
 * (and A/B variant) and trigger, on each of its sites, in each locale, as
 * `herald preview` and `herald send` render it for the sample recipients.
 *
 * A golden that changes is a change to what customers receive, so the diff is
 * reviewed like code, never accepted blindly. After changing a template, a
 * partial or the renderer:
 *
 *   npx vitest run test/render/golden.test.ts -u
 *   git diff test/render/golden/     (open changed .html files in a browser)
 *
 * and commit the goldens with the change. Under CI=true vitest writes no
 * snapshot, so an unreviewed change fails CI.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { previewCells, renderCells, type EmailCell } from '../../src/preview/render.js';
import { loadSamples } from '../../src/preview/samples.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { repoRoot } from '../support/workspace.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const GOLDEN = join(repoRoot, 'test', 'render', 'golden');

// Link tokens are signed with a throwaway secret and auto-login ones carry a
// nonce, so they differ on every render; the goldens hold a placeholder.
const TOKEN = '[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+';
const UNSUBSCRIBE = new RegExp(`(/unsubscribe/)${TOKEN}`, 'g');
const AUTO_LOGIN = new RegExp(`(/auto-login\\?token=)${TOKEN}`, 'g');

function withoutTokens(s: string): string {
  return s.replace(UNSUBSCRIBE, '$1TOKEN').replace(AUTO_LOGIN, '$1TOKEN');
}

/** The emails: SMS and push cells have tests of their own (test/preview/channels.test.ts). */
async function render(): Promise<EmailCell[]> {
  const { workspace } = await validateWorkspace(repoRoot);
  if (!workspace) throw new Error('the example workspace does not load: run herald validate');
  const samples = await loadSamples(workspace);
  const cells = previewCells(workspace, samples).filter((c) => c.channel === 'email');
  return (await renderCells(workspace, cells, samples, NOW)).filter((c): c is EmailCell => c.channel === 'email');
}

function textGolden(c: EmailCell): string {
  const header = [`Subject: ${c.subject}`, `Preheader: ${c.preheader}`, `From: ${c.from}`, ...(c.replyTo ? [`Reply-To: ${c.replyTo}`] : [])];
  return `${header.join('\n')}\n\n${withoutTokens(c.text)}`;
}

const cells = await render();

it('renders the same messages every time, tokens aside', async () => {
  const again = await render();
  const golden = (cs: EmailCell[]) => cs.map((c) => ({ id: c.id, html: withoutTokens(c.html), text: textGolden(c) }));
  expect(golden(again)).toEqual(golden(cells));
});

it('has a golden for every message and no stale ones', () => {
  const files = (dir: string): string[] =>
    !existsSync(dir) ? [] : readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [relative(GOLDEN, join(dir, e.name))]));
  const expected = new Set(cells.flatMap((c) => [`${c.id}.html`, `${c.id}.txt`]));
  // A missing golden is written by -u; a stale one (a renamed campaign, a dropped locale) has to be deleted by hand.
  expect(files(GOLDEN).filter((f) => !expected.has(f))).toEqual([]);
});

describe.each(cells)('$id', (cell) => {
  it('matches its HTML golden', async () => {
    await expect(withoutTokens(cell.html)).toMatchFileSnapshot(join(GOLDEN, `${cell.id}.html`));
  });

  it('matches its text golden', async () => {
    await expect(textGolden(cell)).toMatchFileSnapshot(join(GOLDEN, `${cell.id}.txt`));
  });

  it('is a complete message', () => {
    for (const part of [cell.subject, cell.preheader, cell.html, cell.text]) expect(part).not.toMatch(/\{\{|\{%/);
    expect(cell.subject.trim()).not.toBe('');
    expect(cell.html).toMatch(new RegExp(`href="https://mail\\.shop\\.example\\.com/unsubscribe/${TOKEN}"`));
    expect(cell.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });
});
