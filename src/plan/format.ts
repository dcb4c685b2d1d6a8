import { createTwoFilesPatch } from 'diff';
import type { Breakdown } from '../audience/breakdown.js';
import { hasChanges, type Plan, type Change, type Drift } from './plan.js';
import type { FieldChange } from './diff.js';

/** Terraform-style text for a plan. Colour only when asked (a TTY without NO_COLOR). */
export function formatPlan(plan: Plan, opts: { color: boolean; showUnchanged?: boolean; refreshOnly?: boolean }): string {
  const c = palette(opts.color);
  const lines: string[] = [];
  if (plan.environment || plan.gitCommit || plan.deployedCommit) {
    lines.push(
      c.dim(`Environment ${plan.environment ?? '(default)'} runs ${plan.deployedCommit ?? 'nothing applied yet'}; workspace at ${plan.gitCommit ?? 'no git commit'}.`),
      '',
    );
  }
  if (plan.target) {
    lines.push(c.yellow(`Targeted at ${plan.target} and what it uses: changes to other objects are not in this plan.`), '');
  }
  for (const d of plan.drift) lines.push(...formatDrift(d, c));
  if (!opts.refreshOnly) {
    for (const ch of plan.changes) {
      if (ch.action === 'unchanged' && !opts.showUnchanged) continue;
      lines.push(...formatChange(ch, c));
    }
    const lists = Object.entries(plan.lists ?? {});
    if (lists.length) {
      lines.push('', 'Lists:');
      for (const [name, d] of lists) lines.push(`  list/${name}: ${c.green(`+${d.added}`)} ${c.red(`−${d.removed}`)} (${d.kept} kept)`);
    }
    if (plan.audiences.length) {
      lines.push('', 'Audiences:');
      for (const a of plan.audiences) {
        const delta = a.recipients !== null && a.previous !== null ? ` (${signed(a.recipients - a.previous)} since the last apply)` : '';
        lines.push(`  campaign/${a.campaign}: ${a.recipients === null ? `unknown (${a.note})` : `${a.recipients} recipients`}${delta}`);
        if (a.breakdown) lines.push(c.dim(`    ${breakdownLine(a.breakdown)}`));
      }
    }
  }
  for (const w of plan.warnings) lines.push(c.yellow(`warning: ${w}`));
  const s = plan.summary;
  if (opts.refreshOnly) {
    lines.push('', plan.drift.length ? `Drift: ${plan.drift.length} campaign${plan.drift.length === 1 ? '' : 's'} changed outside git.` : 'No drift: the deployed state is what git says.');
    return lines.join('\n');
  }
  if (!hasChanges(plan) && s.refused === 0) lines.push('No changes. The deployed state matches the workspace.');
  lines.push(
    '',
    `Plan: ${s.create} to create, ${s.update} to update, ${s.delete} to delete, ${s.archive} to archive, ${s.refused} refused, ${s.unchanged} unchanged.`,
  );
  return lines.join('\n');
}

type Palette = Record<'green' | 'yellow' | 'red' | 'cyan' | 'dim', (s: string) => string>;

function palette(on: boolean): Palette {
  const wrap = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { green: wrap(32), yellow: wrap(33), red: wrap(31), cyan: wrap(36), dim: wrap(2) };
}

function formatChange(ch: Change, c: Palette): string[] {
  const id = `${ch.kind}/${ch.name}`;
  switch (ch.action) {
    case 'create':
      return [c.green(`+ create ${id}`)];
    case 'delete':
      return [c.red(`- delete ${id}`)];
    case 'archive':
      return [c.cyan(`  archive ${id}`), c.dim(`    ${ch.reason}`)];
    case 'unchanged':
      return [c.dim(`  unchanged ${id}`)];
    case 'update':
      return [c.yellow(`~ update ${id}`), ...(ch.fields ?? []).flatMap((f) => formatField(f, c))];
    case 'refused':
      return [
        c.red(`! refused ${ch.wanted ?? 'change'} ${id}`),
        `    ${ch.reason}`,
        ...(ch.hint ? [c.dim(`    hint: ${ch.hint}`)] : []),
        ...(ch.fields ?? []).flatMap((f) => formatField(f, c)),
      ];
  }
}

function formatDrift(d: Drift, c: Palette): string[] {
  const o = d.override;
  return [
    c.cyan(`≠ drift campaign/${d.campaign}`),
    `    deployed: ${o.status} by ${o.setBy} at ${o.setAt} (${o.reason}); workspace: ${d.workspaceStatus}`,
    d.resolution === 'revert'
      ? c.yellow(`    the file changed since: apply restores the workspace's status`)
      : c.dim(`    the file has not changed since: apply keeps the emergency change`),
  ];
}

/** Multi-line text (an MJML body) shows as a unified diff of the source; anything else on one line. */
function formatField(f: FieldChange, c: Palette): string[] {
  if (typeof f.before === 'string' && typeof f.after === 'string' && (f.before.includes('\n') || f.after.includes('\n'))) {
    const patch = createTwoFilesPatch(f.path, f.path, f.before, f.after, 'deployed', 'workspace', { context: 2 });
    const lines = patch.split('\n');
    const body = lines.slice(lines.findIndex((l) => l.startsWith('@@'))).filter((l) => l !== '' && !l.startsWith('\\'));
    return [`    ~ ${f.path}:`, ...body.map((l) => `      ${l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l}`)];
  }
  if (f.before === undefined) return [`    ${c.green('+')} ${f.path}: ${show(f.after)}`];
  if (f.after === undefined) return [`    ${c.red('-')} ${f.path}: ${show(f.before)}`];
  return [`    ${c.yellow('~')} ${f.path}: ${show(f.before)} → ${show(f.after)}`];
}

function show(v: unknown): string {
  if (typeof v === 'string' && v.includes('\n')) return `(${v.split('\n').length} lines)`;
  return JSON.stringify(v);
}

/** How the recipients follow from the segment: `120 in segment − 3 address problems − 9 no subscription − 8 control group`. */
export function breakdownLine(b: Breakdown): string {
  return [
    `${b.in_segment} in segment`,
    `${b.address_problems} address problems`,
    `${b.no_subscription} no subscription`,
    ...(b.control_group ? [`${b.control_group} control group`] : []),
  ].join(' − ');
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}
