import type { Problem } from '../errors.js';
import { problemAt } from './source.js';
import { campaignSites, type Condition, type Workspace } from './model.js';

/**
 * Cross-file rules, run after every file passed its schema. Each rule is a
 * small named function that returns the problems it finds.
 */
type Rule = (ws: Workspace, failed: Set<string>) => Problem[];

const campaignSitesDefined: Rule = (ws) => {
  const sites = new Set(ws.project.spec.sites.map((s) => s.id));
  const out: Problem[] = [];
  for (const c of ws.campaigns.values()) {
    const { site, sites: many } = c.spec;
    if ((site === undefined) === (many === undefined)) {
      out.push(problemAt(c.source, [], 'give exactly one of "site" or "sites"', 'campaign', {
        hint: 'site: <id> for one site, sites: [<id>, ...] for several',
      }));
      continue;
    }
    campaignSites(c.spec).forEach((id, i) => {
      if (sites.has(id)) return;
      out.push(problemAt(c.source, many ? ['sites', i] : ['site'], `site "${id}" is not defined in herald.yaml`, 'reference', {
        hint: `defined sites: ${[...sites].join(', ')}`,
      }));
    });
  }
  return out;
};

const siteLocales: Rule = (ws) => {
  const out: Problem[] = [];
  const seen = new Set<string>();
  ws.project.spec.sites.forEach((s, i) => {
    if (seen.has(s.id)) out.push(problemAt(ws.project.source, ['sites', i, 'id'], `site id "${s.id}" is used twice`, 'project'));
    seen.add(s.id);
    if (!s.locales.includes(s.default_locale)) {
      out.push(problemAt(ws.project.source, ['sites', i, 'default_locale'], `default_locale "${s.default_locale}" is not one of the site's locales (${s.locales.join(', ')})`, 'project'));
    }
  });
  return out;
};

const campaignReferences: Rule = (ws, failed) => {
  const out: Problem[] = [];
  for (const c of ws.campaigns.values()) {
    const seg = c.spec.audience.segment;
    if (!ws.segments.has(seg) && !failed.has(`segments/${seg}.yaml`)) {
      out.push(problemAt(c.source, ['audience', 'segment'], `segment "${seg}" does not exist`, 'reference', {
        hint: known('segments', ws.segments.keys(), `segments/${seg}.yaml`),
      }));
    }
    const tpl = c.spec.template;
    if (!ws.templates.has(tpl) && !failed.has(`templates/${tpl}/template.yaml`)) {
      out.push(problemAt(c.source, ['template'], `template "${tpl}" does not exist`, 'reference', {
        hint: known('templates', ws.templates.keys(), `templates/${tpl}/`),
      }));
    }
  }
  return out;
};

/** Every locale of every site that uses a template needs its subject and body. */
const templateLocales: Rule = (ws) => {
  const out: Problem[] = [];
  const sites = new Map(ws.project.spec.sites.map((s) => [s.id, s]));
  for (const c of ws.campaigns.values()) {
    const t = ws.templates.get(c.spec.template);
    if (!t) continue;
    for (const siteId of campaignSites(c.spec)) {
      for (const locale of sites.get(siteId)?.locales ?? []) {
        if (!t.bodies[locale]) {
          out.push(problemAt(t.source, [], `template "${t.name}" has no ${locale}.mjml, needed by site "${siteId}" (campaign "${c.name}")`, 'template', {
            hint: `add templates/${t.name}/${locale}.mjml`,
          }));
        }
        if (!t.spec.subject[locale]) {
          out.push(problemAt(t.source, ['subject'], `template "${t.name}" has no ${locale} subject, needed by site "${siteId}" (campaign "${c.name}")`, 'template', {
            hint: `add "${locale}: ..." under subject`,
            key: true,
          }));
        }
      }
    }
  }
  return dedupe(out);
};

/** `segment:` references resolve and never loop back. */
const segmentReferences: Rule = (ws, failed) => {
  const out: Problem[] = [];
  const refs = new Map<string, { ref: string; path: (string | number)[] }[]>();
  for (const s of ws.segments.values()) refs.set(s.name, segmentRefs(s.spec.where, ['where']));
  for (const s of ws.segments.values()) {
    for (const r of refs.get(s.name)!) {
      if (!ws.segments.has(r.ref) && !failed.has(`segments/${r.ref}.yaml`)) {
        out.push(problemAt(s.source, r.path, `segment "${r.ref}" does not exist`, 'reference', {
          hint: known('segments', ws.segments.keys(), `segments/${r.ref}.yaml`),
        }));
      }
    }
  }
  // Depth-first search for a path back to the start; report each cycle once, at its first member.
  const reported = new Set<string>();
  for (const start of ws.segments.keys()) {
    const cycle = findCycle(start, refs);
    if (!cycle) continue;
    const key = [...new Set(cycle)].sort().join(',');
    if (reported.has(key)) continue;
    reported.add(key);
    const s = ws.segments.get(start)!;
    const first = refs.get(start)!.find((r) => r.ref === cycle[1]);
    out.push(problemAt(s.source, first?.path ?? ['where'], `segments refer to each other in a cycle: ${cycle.join(' → ')}`, 'reference', {
      hint: 'a segment cannot include itself, directly or through others',
    }));
  }
  return out;
};

function findCycle(start: string, refs: Map<string, { ref: string }[]>): string[] | undefined {
  const stack: string[] = [start];
  const visit = (name: string, seen: Set<string>): string[] | undefined => {
    for (const { ref } of refs.get(name) ?? []) {
      if (ref === start) return [...stack, start];
      if (seen.has(ref) || !refs.has(ref)) continue;
      seen.add(ref);
      stack.push(ref);
      const found = visit(ref, seen);
      if (found) return found;
      stack.pop();
    }
    return undefined;
  };
  return visit(start, new Set([start]));
}

export function segmentRefs(c: Condition, path: (string | number)[]): { ref: string; path: (string | number)[] }[] {
  if (c.segment !== undefined) return [{ ref: c.segment, path: [...path, 'segment'] }];
  if (c.all) return c.all.flatMap((x, i) => segmentRefs(x, [...path, 'all', i]));
  if (c.any) return c.any.flatMap((x, i) => segmentRefs(x, [...path, 'any', i]));
  if (c.not) return segmentRefs(c.not, [...path, 'not']);
  return [];
}

function known(what: string, names: Iterable<string>, file: string): string {
  const list = [...names];
  return list.length ? `known ${what}: ${list.join(', ')}; or create ${file}` : `create ${file}`;
}

function dedupe(ps: Problem[]): Problem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.file}:${p.line}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const RULES: Rule[] = [siteLocales, campaignSitesDefined, campaignReferences, templateLocales, segmentReferences];

export function checkRules(ws: Workspace, failed: Set<string>): Problem[] {
  return RULES.flatMap((rule) => rule(ws, failed));
}
