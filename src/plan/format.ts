import type { Plan, Change } from './plan.js';
import type { FieldChange } from './diff.js';

/** Terraform-style text for a plan. Colour only when asked (TTY without NO_COLOR). */
export function formatPlan(plan: Plan, opts: { color: boolean; showUnchanged?: boolean }): string {
  const c = palette(opts.color);
  const lines: string[] = [];
  for (const ch of plan.changes) {
    if (ch.action === 'unchanged' && !opts.showUnchanged) continue;
    lines.push(...formatChange(ch, c));
  }
  const s = plan.summary;
  if (lines.length === 0) lines.push('No changes. The deployed state matches the workspace.');
  lines.push('', `Plan: ${s.create} to create, ${s.update} to update, ${s.delete} to delete, ${s.unchanged} unchanged.`);
  return lines.join('\n');
}

type Palette = Record<'green' | 'yellow' | 'red' | 'dim', (s: string) => string>;

function palette(on: boolean): Palette {
  const wrap = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { green: wrap(32), yellow: wrap(33), red: wrap(31), dim: wrap(2) };
}

function formatChange(ch: Change, c: Palette): string[] {
  const id = `${ch.kind}/${ch.name}`;
  switch (ch.action) {
    case 'create':
      return [c.green(`+ create ${id}`)];
    case 'delete':
      return [c.red(`- delete ${id}`)];
    case 'unchanged':
      return [c.dim(`  unchanged ${id}`)];
    case 'update':
      return [c.yellow(`~ update ${id}`), ...(ch.fields ?? []).map((f) => `    ${formatField(f, c)}`)];
  }
}

function formatField(f: FieldChange, c: Palette): string {
  if (f.before === undefined) return `${c.green('+')} ${f.path}: ${show(f.after)}`;
  if (f.after === undefined) return `${c.red('-')} ${f.path}: ${show(f.before)}`;
  return `${c.yellow('~')} ${f.path}: ${show(f.before)} → ${show(f.after)}`;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (typeof v === 'string' && (v.includes('\n') || v.length > 60)) {
    return `(${v.split('\n').length} lines, ${v.length} chars)`;
  }
  return typeof v === 'string' ? JSON.stringify(s) : s;
}
