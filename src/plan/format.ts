// The one module createTwoFilesPatch needs, not diff's index of every differ (19 modules at plan's start).
import { createTwoFilesPatch } from 'diff/lib/patch/create.js';
import type { Breakdown } from '../audience/breakdown.js';
import { hasChanges, type Plan, type Change, type Drift } from './plan.js';
import type { SmsCost } from './sms-cost.js';
import { diffElements, diffFields, isObject, sameValue, type ElementEdit, type FieldChange } from './diff.js';

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
    if (plan.triggers?.length) {
      lines.push('', 'Triggers:');
      for (const t of plan.triggers) {
        lines.push(
          t.wouldSend === null
            ? `  trigger/${t.trigger}: cannot count what it would send (${t.note})`
            : `  trigger/${t.trigger}: would send ${t.wouldSend} now, ${t.skippedByHorizon} skipped by the back-fill horizon`,
        );
      }
    }
    if (plan.audiences.length) {
      lines.push('', 'Audiences:');
      for (const a of plan.audiences) {
        const delta = a.recipients !== null && a.previous !== null ? ` (${signed(a.recipients - a.previous)} since the last apply)` : '';
        lines.push(`  campaign/${a.campaign}: ${a.recipients === null ? `unknown (${a.note})` : `${a.recipients} recipients`}${delta}`);
        if (a.breakdown) lines.push(c.dim(`    ${breakdownLine(a.breakdown)}`));
        if (a.sms) lines.push(`    ${smsLine(a.sms)}`);
      }
    }
  }
  for (const w of plan.warnings) lines.push(c.yellow(`warning: ${w}`));
  const s = plan.summary;
  if (opts.refreshOnly) {
    const kinds = [...new Set(plan.drift.map((d) => d.kind))];
    const noun = kinds.length === 1 ? kinds[0]! : 'campaign or trigger';
    lines.push('', plan.drift.length ? `Drift: ${plan.drift.length} ${noun}${plan.drift.length === 1 ? '' : 's'} changed outside git.` : 'No drift: the deployed state is what git says.');
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

/** One changed field as the text plan prints, uncoloured and unindented: for other forms of the plan (the PR comment). */
export function fieldLines(f: FieldChange): string[] {
  return formatField(f, palette(false), 0);
}

/** One drift as the text plan prints, uncoloured. */
export function driftLines(d: Drift): string[] {
  return formatDrift(d, palette(false));
}

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
    c.cyan(`≠ drift ${d.kind}/${d.name}`),
    `    deployed: ${o.status} by ${o.setBy} at ${o.setAt} (${o.reason}); workspace: ${d.workspaceStatus}`,
    d.resolution === 'revert'
      ? c.yellow(`    the file changed since: apply restores the workspace's status`)
      : c.dim(`    the file has not changed since: apply keeps the emergency change`),
  ];
}

/**
 * One changed field. Multi-line text (an MJML body) shows as a unified diff
 * of the source; lists and maps show nested, element by element and key by
 * key, as Terraform shows them; anything else on one line.
 */
function formatField(f: FieldChange, c: Palette, indent = 4): string[] {
  if (typeof f.before === 'string' && typeof f.after === 'string' && (f.before.includes('\n') || f.after.includes('\n'))) {
    const patch = createTwoFilesPatch(f.path, f.path, f.before, f.after, 'deployed', 'workspace', { context: 2 });
    const lines = patch.split('\n');
    const body = lines.slice(lines.findIndex((l) => l.startsWith('@@'))).filter((l) => l !== '' && !l.startsWith('\\'));
    const pad = ' '.repeat(indent);
    return [`${pad}~ ${f.path}:`, ...body.map((l) => `${pad}  ${l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l}`)];
  }
  if (Array.isArray(f.before) && Array.isArray(f.after)) {
    return [line(indent, '~', `${f.path}: [`, c), ...formatElements(diffElements(f.before, f.after), c, indent + 4), line(indent, ' ', ']', c)];
  }
  if (f.before === undefined) return formatValue(`${f.path}: `, f.after, '+', c, indent);
  if (f.after === undefined) return formatValue(`${f.path}: `, f.before, '-', c, indent);
  if (isContainer(f.before) || isContainer(f.after)) {
    // A list became a map, or a value a list: the old one goes, the new one comes.
    return [...formatValue(`${f.path}: `, f.before, '-', c, indent), ...formatValue(`${f.path}: `, f.after, '+', c, indent)];
  }
  return [line(indent, '~', `${f.path}: ${inline(f.before)} → ${inline(f.after)}`, c)];
}

function formatElements(edits: ElementEdit[], c: Palette, indent: number): string[] {
  return edits.flatMap((e) => {
    switch (e.op) {
      case 'same':
        return [line(indent, ' ', c.dim(`# (${e.count} unchanged element${e.count === 1 ? '' : 's'} hidden)`), c)];
      case 'remove':
        return formatValue('', e.value, '-', c, indent);
      case 'add':
        return formatValue('', e.value, '+', c, indent);
      case 'change':
        return formatChanged(e.before, e.after, c, indent);
    }
  });
}

/** An element changed in place: its changed fields, its name when it has one, and how many keys did not change. */
function formatChanged(before: unknown, after: unknown, c: Palette, indent: number): string[] {
  if (Array.isArray(before) && Array.isArray(after)) {
    return [line(indent, '~', '[', c), ...formatElements(diffElements(before, after), c, indent + 4), line(indent, ' ', ']', c)];
  }
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  const unchanged = keys.filter((k) => sameValue(b[k], a[k]));
  const named = typeof a.name === 'string' && unchanged.includes('name');
  const hidden = unchanged.length - (named ? 1 : 0);
  return [
    line(indent, '~', '{', c),
    ...(named ? [line(indent + 4, ' ', `name: ${inline(a.name)}`, c)] : []),
    ...diffFields(b, a).flatMap((f) => formatField(f, c, indent + 4)),
    ...(hidden > 0 ? [line(indent + 4, ' ', c.dim(`# (${hidden} unchanged key${hidden === 1 ? '' : 's'} hidden)`), c)] : []),
    line(indent, ' ', '}', c),
  ];
}

/** A whole value added or removed: on one line when short, else key by key, every line marked. */
function formatValue(label: string, v: unknown, marker: '+' | '-', c: Palette, indent: number): string[] {
  const one = inline(v);
  if (!isContainer(v) || one.length <= INLINE_WIDTH) return [line(indent, marker, `${label}${one}`, c)];
  const inner = Array.isArray(v)
    ? v.flatMap((x) => formatValue('', x, marker, c, indent + 4))
    : sortedEntries(v as Record<string, unknown>).flatMap(([k, x]) => formatValue(`${key(k)}: `, x, marker, c, indent + 4));
  return [line(indent, marker, `${label}${Array.isArray(v) ? '[' : '{'}`, c), ...inner, line(indent, ' ', Array.isArray(v) ? ']' : '}', c)];
}

/** Lists and maps up to this many characters stay on one line. */
const INLINE_WIDTH = 70;

function line(indent: number, marker: '+' | '-' | '~' | ' ', text: string, c: Palette): string {
  const m = marker === '+' ? c.green('+') : marker === '-' ? c.red('-') : marker === '~' ? c.yellow('~') : ' ';
  return `${' '.repeat(indent)}${m} ${text}`;
}

function isContainer(v: unknown): v is object {
  return !!v && typeof v === 'object';
}

/** A value on one line: maps as { key: value }, lists as [a, b], multi-line text as its line count. */
function inline(v: unknown): string {
  if (typeof v === 'string' && v.includes('\n')) return `(${v.split('\n').length} lines)`;
  if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
  if (isObject(v)) {
    const entries = sortedEntries(v);
    return entries.length ? `{ ${entries.map(([k, x]) => `${key(k)}: ${inline(x)}`).join(', ')} }` : '{}';
  }
  return JSON.stringify(v) ?? String(v);
}

/** Keys in order, so the text never depends on how a spec was stored (jsonb orders keys by length). */
function sortedEntries(v: Record<string, unknown>): [string, unknown][] {
  return Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A map key as YAML would write it: bare when it is a plain word. */
function key(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k);
}

/** How the recipients follow from the segment: `120 in segment − 3 address problems − 9 no subscription − 8 control group`. */
export function breakdownLine(b: Breakdown): string {
  return [
    `${b.in_segment} in segment`,
    `${b.address_problems} address problems`,
    `${b.no_subscription} no subscription`,
    ...(b.control_group ? [`${b.control_group} control group`] : []),
  ].join(' − ') + (b.by_channel ? ` (${Object.entries(b.by_channel).map(([ch, n]) => `${n} on ${ch}`).join(', ')})` : '');
}

/** "SMS: 300 recipients × up to 2 parts = 600 parts, 42.00 EUR". */
export function smsLine(s: SmsCost): string {
  return `SMS: ${s.recipients} recipients × up to ${s.partsEach} part${s.partsEach === 1 ? '' : 's'} = ${s.parts} parts${s.cost ? `, ${s.cost.amount.toFixed(2)} ${s.cost.currency}` : ''}`;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}
