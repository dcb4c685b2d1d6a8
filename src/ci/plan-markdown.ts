import { breakdownLine, driftLines, fieldLines, smsLine } from '../plan/format.js';
import { diffFields } from '../plan/diff.js';
import type { AudienceLine, Change, Drift, Plan, TriggerLine } from '../plan/plan.js';
import type { DeployObject } from '../state/objects.js';
import { COMMENT, cutLines, fitBody, type Budget } from './fit.js';
import { planMarker } from './marker.js';
import { autolink, codeBlock, htmlCode, htmlText, markdownLink, markdownText, plural, thousands } from './markdown.js';

/**
 * A plan as the body of its pull request comment (or, uncut, of the job
 * summary): the hidden marker with the review fingerprint, a one-line
 * summary, then one collapsed section per changed object, the most
 * consequential first (refused, drift, deletions), so a cut for size drops
 * creates and updates before anything a reviewer must see.
 */
export interface PlanMarkdownOptions {
  /** Where the uploaded plan artifact is: linked when sections are cut. */
  artifactUrl?: string;
  /** COMMENT (the default) or JOB_SUMMARY. */
  budget?: Budget;
}

export function planMarkdown(plan: Plan, opts: PlanMarkdownOptions = {}): string {
  const budget = opts.budget ?? COMMENT;
  return fitBody({ head: head(plan, budget), sections: sections(plan, budget), foot: foot(plan, opts.artifactUrl) }, budget, (n) => pointer(n, budget, opts.artifactUrl));
}

function head(plan: Plan, budget: Budget): string {
  const lines = [planMarker(plan.environment, plan.review), summaryLine(plan)];
  if (plan.target) lines.push('', `Targeted at ${htmlCode(plan.target)} and what it uses: changes to other objects are not in this plan.`);
  if (plan.warnings.length) lines.push('', warnings(plan.warnings, budget));
  return lines.join('\n');
}

/** **herald plan for production**: 2 to create, 1 to update, 0 to delete, 0 refused · 12,345 recipients · 1 trigger would send 87 now */
export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  const what = plan.environment ? `herald plan for ${markdownText(plan.environment)}` : 'herald plan';
  const counts = [
    `${thousands(s.create)} to create`,
    `${thousands(s.update)} to update`,
    `${thousands(s.delete)} to delete`,
    ...(s.archive ? [`${thousands(s.archive)} to archive`] : []),
    `${thousands(s.refused)} refused`,
    ...(plan.drift.length ? [`${thousands(plan.drift.length)} changed outside git`] : []),
  ].join(', ');
  const parts = [counts];
  const measured = plan.audiences.filter((a) => a.recipients !== null);
  if (measured.length) parts.push(plural(measured.reduce((n, a) => n + a.recipients!, 0), 'recipient'));
  const counted = (plan.triggers ?? []).filter((t) => t.wouldSend !== null);
  if (counted.length) parts.push(`${plural(counted.length, 'trigger')} would send ${thousands(counted.reduce((n, t) => n + t.wouldSend!, 0))} now`);
  return `**${what}**: ${parts.join(' · ')}`;
}

/** Warnings are not cut with the sections; a flood of them is, at one section's size. */
function warnings(list: readonly string[], budget: Budget): string {
  const items: string[] = [];
  let used = 0;
  for (const w of list) {
    const item = `- ${markdownText(w)}`;
    if (used + budget.measure(item) > budget.section) break;
    items.push(item);
    used += budget.measure(item) + 1;
  }
  const rest = list.length - items.length;
  return [`**${plural(list.length, 'warning')}:**`, '', ...items, ...(rest ? [`- … and ${plural(rest, 'more warning')}: see the plan artifact`] : [])].join('\n');
}

const RANK: Record<string, number> = { refused: 0, drift: 1, delete: 2, archive: 3, update: 4, create: 5 };

function sections(plan: Plan, budget: Budget): string[] {
  const facts: Facts = {
    audiences: new Map(plan.audiences.map((a) => [a.campaign, a])),
    triggers: new Map((plan.triggers ?? []).map((t) => [t.trigger, t])),
    objects: new Map(plan.objects.map((o) => [`${o.kind}/${o.name}`, o])),
  };
  const items: { rank: number; text: () => string }[] = [
    ...plan.drift.map((d) => ({ rank: RANK.drift!, text: () => driftSection(d, budget) })),
    ...plan.changes.filter((c) => c.action !== 'unchanged').map((c) => ({ rank: RANK[c.action]!, text: () => changeSection(plan, facts, c, budget) })),
  ];
  // Array.prototype.sort is stable: within a rank, the plan's dependency order stays.
  return items.sort((a, b) => a.rank - b.rank).map((i) => i.text());
}

/** What a section shows beside the change, by name. */
interface Facts {
  audiences: Map<string, AudienceLine>;
  triggers: Map<string, TriggerLine>;
  objects: Map<string, DeployObject>;
}

function changeSection(plan: Plan, facts: Facts, ch: Change, budget: Budget): string {
  const id = `${ch.kind}/${ch.name}`;
  const verb = ch.action === 'refused' ? `refused ${ch.wanted ?? 'change'}` : ch.action;
  const audience = ch.kind === 'campaign' ? facts.audiences.get(ch.name) : undefined;
  const trigger = ch.kind === 'trigger' ? facts.triggers.get(ch.name) : undefined;
  const list = ch.kind === 'list' ? plan.lists[ch.name] : undefined;
  const tags = [
    ...(audience?.recipients != null ? [plural(audience.recipients, 'recipient')] : []),
    ...(trigger?.wouldSend != null ? [`would send ${thousands(trigger.wouldSend)} now`] : []),
    ...(list ? [`+${thousands(list.added)} −${thousands(list.removed)} members`] : []),
  ];
  const body: string[] = [];
  if (ch.action === 'refused') {
    body.push(`**Refused:** ${markdownText(ch.reason ?? 'no reason given')}`);
    if (ch.hint) body.push(`**Hint:** ${markdownText(ch.hint)}`);
  }
  if (ch.action === 'archive' && ch.reason) body.push(markdownText(ch.reason));
  if (ch.action === 'delete') body.push('Its file is gone: apply deletes it.');
  if (audience) {
    const delta = audience.recipients !== null && audience.previous !== null ? ` (${signed(audience.recipients - audience.previous)} since the last apply)` : '';
    body.push(
      audience.recipients === null
        ? `**Audience:** unknown (${markdownText(audience.note ?? 'not measured')})`
        : `**Audience:** ${plural(audience.recipients, 'recipient')}${delta}${audience.breakdown ? `: ${markdownText(breakdownLine(audience.breakdown))}` : ''}`,
    );
    if (audience.sms) body.push(`**${markdownText(smsLine(audience.sms))}**`);
  }
  if (trigger) {
    body.push(
      trigger.wouldSend === null
        ? `**Would send:** cannot count (${markdownText(trigger.note ?? 'unknown')})`
        : `**Would send ${thousands(trigger.wouldSend)} now**, ${thousands(trigger.skippedByHorizon ?? 0)} skipped by the back-fill horizon.`,
    );
  }
  if (list) body.push(`**Members:** +${thousands(list.added)} added, −${thousands(list.removed)} removed, ${thousands(list.kept)} kept.`);
  // A created object shows its whole spec, key by key, as added fields.
  const created = ch.action === 'create' ? facts.objects.get(id) : undefined;
  const fields = ch.fields ?? (created ? diffFields({}, created.spec) : []);
  if (fields.length) body.push(code(fields.flatMap(fieldLines).join('\n'), budget));
  return details(`<b>${htmlText(verb)}</b> ${htmlCode(id)}${tags.map((t) => ` · ${htmlText(t)}`).join('')}`, body);
}

function driftSection(d: Drift, budget: Budget): string {
  const what = d.resolution === 'revert' ? 'apply restores the workspace' : 'apply keeps it';
  return details(`<b>drift</b> ${htmlCode(`${d.kind}/${d.name}`)} · ${htmlText(`${d.override.status} outside git, ${what}`)}`, [code(driftLines(d).join('\n'), budget)]);
}

function details(summary: string, body: readonly string[]): string {
  // Blank lines around the body: Markdown inside <details> renders only as its own block.
  return [`<details><summary>${summary}</summary>`, '', ...body.flatMap((b) => [b, '']), '</details>'].join('\n');
}

function code(text: string, budget: Budget): string {
  return codeBlock(cutLines(text, budget.section, budget.measure, (n) => `… ${plural(n, 'more line')}: see the plan artifact`), 'diff');
}

function foot(plan: Plan, artifactUrl?: string): string {
  const commit = plan.gitCommit ? htmlCode(plan.gitCommit) : 'no git commit';
  const deployed = plan.deployedCommit ? htmlCode(plan.deployedCommit) : 'nothing applied yet';
  const link = artifactUrl ? markdownLink('The plan file', artifactUrl) : undefined;
  return `<sub>Reviewed fingerprint ${htmlCode(plan.review)} · commit ${commit} · deployed ${deployed}. On merge, apply runs only if the plan is still this one.${link ? ` ${link} is an artifact of the run.` : ''}</sub>`;
}

function pointer(n: number, budget: Budget, artifactUrl?: string): string {
  const link = artifactUrl ? autolink(artifactUrl) : undefined;
  const where = budget.where === 'comment' ? 'see the job summary and the plan artifact' : 'see the plan artifact';
  return `${plural(n, 'more object')}: ${where}${link ? ` (${link})` : ''}`;
}

function signed(n: number): string {
  return n > 0 ? `+${thousands(n)}` : thousands(n);
}
