import type { Problem } from '../../errors.js';
import type { Entry, Project } from '../model.js';
import { problemAt } from '../source.js';
import type { Check } from './index.js';
import { campaignProblems } from './semantic-campaigns.js';
import { conditionProblems } from './semantic-conditions.js';
import { triggerProblems } from './semantic-triggers.js';
import { frequencyCapProblems, isTimeZone, nearestTimeZone, quietHoursProblems } from './semantic-time.js';

/**
 * What the schemas cannot say: values that have the right shape but no sense
 * (a 0d window, February 30, a 60% control group, an A/B fallback that is not
 * a variant, a trigger parameter its event ignores).
 */
export const semanticChecks: Check = (ws) => {
  const project = ws.project;
  const sites = new Set(project.spec.sites.map((s) => s.id));
  const zone = project.spec.defaults?.timezone ?? 'UTC';
  const out: Problem[] = [...projectProblems(project)];
  for (const s of ws.segments.values()) out.push(...conditionProblems(s.source, s.spec.where, ['where'], sites));
  for (const t of ws.triggers.values()) {
    out.push(...triggerProblems(t, sites));
    if (t.spec.audience) out.push(...conditionProblems(t.source, t.spec.audience, ['audience'], sites));
  }
  for (const c of ws.campaigns.values()) out.push(...campaignProblems(c, zone));
  return out;
};

function projectProblems(p: Entry<Project>): Problem[] {
  const out: Problem[] = [];
  const defaults = p.spec.defaults;
  if (defaults?.timezone !== undefined && !isTimeZone(defaults.timezone)) {
    const guess = nearestTimeZone(defaults.timezone);
    out.push(problemAt(p.source, ['defaults', 'timezone'], `"${defaults.timezone}" is not a time zone`, 'timezone', {
      hint: guess ? `did you mean "${guess}"?` : 'use an IANA time zone name such as Europe/Berlin or UTC',
    }));
  }
  if (defaults?.quiet_hours) out.push(...quietHoursProblems(p.source, ['defaults', 'quiet_hours'], defaults.quiet_hours, 'to send at any hour, remove quiet_hours'));
  if (defaults?.frequency_cap) out.push(...frequencyCapProblems(p.source, ['defaults', 'frequency_cap'], defaults.frequency_cap));

  // Two environments on one database variable would make a staging apply change production.
  const byVariable = new Map<string, string>();
  for (const [name, env] of Object.entries(p.spec.environments ?? {})) {
    const first = byVariable.get(env.database_url_env);
    if (first === undefined) {
      byVariable.set(env.database_url_env, name);
      continue;
    }
    out.push(problemAt(p.source, ['environments', name, 'database_url_env'], `environments ${first} and ${name} both read their database from ${env.database_url_env}`, 'environment', {
      hint: `give ${name} its own variable, such as HERALD_${name.toUpperCase().replace(/-/g, '_')}_DATABASE_URL`,
    }));
  }
  return out;
}
