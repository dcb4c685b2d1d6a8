import type { Problem } from '../errors.js';
import { problemAt } from './source.js';
import { campaignSites, eachCondition, type Condition, type Workspace } from './model.js';

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

/** Checks that each named object exists; `path` points at the name in the file. */
function references(
  src: Parameters<typeof problemAt>[0],
  refs: { name: string; path: (string | number)[] }[],
  kind: 'segment' | 'list' | 'template' | 'campaign' | 'trigger',
  ws: Workspace,
  failed: Set<string>,
): Problem[] {
  const pools = { segment: ws.segments, list: ws.lists, template: ws.templates, campaign: ws.campaigns, trigger: ws.triggers };
  const pool: ReadonlyMap<string, unknown> = pools[kind];
  const fileOf = (n: string) => (kind === 'template' ? `templates/${n}/template.yaml` : `${kind}s/${n}.yaml`);
  return refs
    .filter((r) => !pool.has(r.name) && !failed.has(fileOf(r.name)))
    .map((r) =>
      problemAt(src, r.path, `${kind} "${r.name}" does not exist`, 'reference', {
        hint: known(`${kind}s`, pool.keys(), kind === 'template' ? `templates/${r.name}/` : fileOf(r.name)),
      }),
    );
}

const named = (names: string[] | undefined, path: (string | number)[]) => (names ?? []).map((name, i) => ({ name, path: [...path, i] }));
const one = (name: string | undefined, path: (string | number)[]) => (name === undefined ? [] : [{ name, path }]);

const campaignReferences: Rule = (ws, failed) => {
  const out: Problem[] = [];
  for (const c of ws.campaigns.values()) {
    const a = c.spec.audience;
    out.push(
      ...references(c.source, [...one(a.segment, ['audience', 'segment']), ...named(a.segments, ['audience', 'segments']), ...named(a.exclude, ['audience', 'exclude'])], 'segment', ws, failed),
      ...references(c.source, [...one(a.list, ['audience', 'list']), ...named(a.lists, ['audience', 'lists'])], 'list', ws, failed),
      ...references(c.source, [...one(c.spec.template, ['template']), ...(c.spec.ab_test?.variants ?? []).flatMap((v, i) => one(v.template, ['ab_test', 'variants', i, 'template']))], 'template', ws, failed),
    );
    if (!a.segment && !a.segments && !a.list && !a.lists) {
      out.push(problemAt(c.source, ['audience'], 'the audience names no segment or list', 'campaign', {
        key: true,
        hint: 'add segment: <name>, segments: [...], list: <name> or lists: [...]',
      }));
    }
  }
  for (const t of ws.triggers.values()) {
    out.push(...references(t.source, one(t.spec.template, ['template']), 'template', ws, failed));
  }
  return out;
};

/**
 * The channels a campaign or trigger sends on: email unless it names others
 * (`channels: [push, sms, email]`).
 */
function channelsOf(spec: object): string[] {
  const channels = (spec as { channels?: unknown }).channels;
  return Array.isArray(channels) && channels.every((c) => typeof c === 'string') ? channels : ['email'];
}

/** Every locale of every site that uses a template needs what each channel it is sent on sends. */
const templateLocales: Rule = (ws, failed) => {
  const out: Problem[] = [];
  const sites = new Map(ws.project.spec.sites.map((s) => [s.id, s]));
  // Campaigns name their sites; a trigger without sites runs on every site.
  const users = [
    ...[...ws.campaigns.values()].map((c) => ({ what: `campaign "${c.name}"`, template: c.spec.template, sites: campaignSites(c.spec), channels: channelsOf(c.spec) })),
    ...[...ws.triggers.values()].map((t) => ({ what: `trigger "${t.name}"`, template: t.spec.template, sites: campaignSites(t.spec).length ? campaignSites(t.spec) : [...sites.keys()], channels: channelsOf(t.spec) })),
  ];
  for (const c of users) {
    const t = ws.templates.get(c.template);
    if (!t) continue;
    for (const siteId of c.sites) {
      for (const locale of sites.get(siteId)?.locales ?? []) {
        const needed = `needed by site "${siteId}" (${c.what})`;
        if (c.channels.includes('email') && !t.bodies[locale]) {
          out.push(problemAt(t.source, [], `template "${t.name}" has no ${locale}.mjml, ${needed}`, 'template', {
            hint: `add templates/${t.name}/${locale}.mjml`,
          }));
        }
        if (c.channels.includes('email') && !t.spec.subject?.[locale]) {
          out.push(problemAt(t.source, t.spec.subject ? ['subject'] : [], `template "${t.name}" has no ${locale} subject, ${needed}`, 'template', {
            hint: `add "${locale}: ..." under subject`,
            key: t.spec.subject !== undefined,
          }));
        }
        if (c.channels.includes('sms') && !t.sms[locale]) {
          out.push(problemAt(t.source, [], `template "${t.name}" has no sms.${locale}.txt, ${needed}`, 'template', {
            hint: `add templates/${t.name}/sms.${locale}.txt`,
          }));
        }
        const pushFile = `templates/${t.name}/push.${locale}.yaml`;
        if (c.channels.includes('push') && !t.push[locale] && !failed.has(pushFile)) {
          out.push(problemAt(t.source, [], `template "${t.name}" has no push.${locale}.yaml, ${needed}`, 'template', {
            hint: `add ${pushFile} with a title and a body`,
          }));
        }
      }
    }
  }
  return dedupe(out);
};

/**
 * A template's SMS texts and push notifications, when it has any, cover every
 * locale the template is written in: a campaign in that locale would
 * otherwise reach some customers on one channel and not the other.
 */
const channelLocales: Rule = (ws, failed) => {
  const out: Problem[] = [];
  const emailUsers = new Set([...ws.campaigns.values(), ...ws.triggers.values()].filter((x) => channelsOf(x.spec).includes('email')).map((x) => x.spec.template));
  for (const t of ws.templates.values()) {
    const dir = `templates/${t.name}`;
    // A push file that failed its schema is not in the model, but it is there.
    const pushLocales = new Set([...Object.keys(t.push), ...[...failed].flatMap((f) => /^push\.(.+)\.yaml$/.exec(f.startsWith(`${dir}/`) ? f.slice(dir.length + 1) : '')?.[1] ?? [])]);
    const smsLocales = new Set(Object.keys(t.sms));
    const locales = [...new Set([...Object.keys(t.bodies), ...smsLocales, ...pushLocales])].sort();
    const written = (except: string) => `the template is written in ${locales.join(', ')}${except}`;
    for (const locale of locales) {
      if (smsLocales.size > 0 && !smsLocales.has(locale)) {
        out.push(problemAt(t.source, [], `template "${t.name}" has SMS texts but no sms.${locale}.txt`, 'template', {
          hint: `add ${dir}/sms.${locale}.txt: ${written('')}`,
        }));
      }
      if (pushLocales.size > 0 && !pushLocales.has(locale)) {
        out.push(problemAt(t.source, [], `template "${t.name}" has push notifications but no push.${locale}.yaml`, 'template', {
          hint: `add ${dir}/push.${locale}.yaml: ${written('')}`,
        }));
      }
    }
    // The schema no longer asks every template for a subject: one with an email body still needs it.
    // When email sources use the template, templateLocales names the locales their sites need.
    const bodies = Object.keys(t.bodies).sort();
    if (bodies.length > 0 && t.spec.subject === undefined && !failed.has(t.source.file) && !emailUsers.has(t.name)) {
      out.push(problemAt(t.source, [], `template "${t.name}" has ${bodies.map((l) => `${l}.mjml`).join(', ')} but no subject`, 'template', {
        hint: `add subject: with "${bodies[0]}: ..." under it`,
      }));
    }
  }
  return out;
};

/** What each SMS provider needs besides the schema's own requirements. */
const smsProvider: Rule = (ws) => {
  const sms = ws.project.spec.sms;
  if (!sms) return [];
  const src = ws.project.source;
  const missing = (key: string, why: string) => problemAt(src, ['sms'], `sms.provider is ${sms.provider}, which needs sms.${key}`, 'project', { key: true, hint: why });
  if (sms.provider === 'twilio') {
    return [
      ...(sms.account_sid === undefined ? [missing('account_sid', 'add account_sid: the Twilio account SID (AC…)')] : []),
      ...(sms.auth_token_env === undefined ? [missing('auth_token_env', 'add auth_token_env: the environment variable holding the auth token')] : []),
    ];
  }
  if (sms.provider === 'outbox') return [];
  return sms.webhook === undefined ? [missing('webhook', 'add webhook: { url: https://… } (and auth_header_env, body as the provider needs)')] : [];
};

/** A campaign or trigger on SMS or push needs herald.yaml to say how those are sent. */
const channelSettings: Rule = (ws) => {
  const out: Problem[] = [];
  const project = ws.project.spec;
  for (const [kind, pool] of [['campaign', ws.campaigns], ['trigger', ws.triggers]] as const) {
    for (const [name, x] of pool) {
      const channels = (x.spec as { channels?: string[] }).channels ?? [];
      channels.forEach((ch, i) => {
        if (ch === 'sms' && !project.sms) out.push(problemAt(x.source, ['channels', i], `${kind} "${name}" sends SMS, and herald.yaml has no sms block`, 'reference', { hint: 'add sms: with a provider to herald.yaml (docs/sms.md), or take sms out of channels' }));
        if (ch === 'push' && !project.push) out.push(problemAt(x.source, ['channels', i], `${kind} "${name}" sends push notifications, and herald.yaml has no push block`, 'reference', { hint: 'add push: with vapid or fcm to herald.yaml (docs/push.md), or take push out of channels' }));
      });
    }
  }
  return out;
};

/**
 * `segment:` and `list:` references in conditions resolve, so do the
 * campaigns and triggers of received/opened/clicked, and segments never
 * loop back.
 */
const conditionReferences: Rule = (ws, failed) => {
  const out: Problem[] = [];
  const refs = new Map<string, { ref: string; path: (string | number)[] }[]>();
  const check = (src: Parameters<typeof problemAt>[0], where: Condition, path: (string | number)[]) => {
    const found = conditionRefs(where, path);
    out.push(...references(src, found.filter((r) => r.kind === 'segment'), 'segment', ws, failed));
    out.push(...references(src, found.filter((r) => r.kind === 'list'), 'list', ws, failed));
    const sent = messageRefs(where, path);
    out.push(...references(src, sent.filter((r) => r.kind === 'campaign'), 'campaign', ws, failed));
    out.push(...references(src, sent.filter((r) => r.kind === 'trigger'), 'trigger', ws, failed));
    return found.filter((r) => r.kind === 'segment').map((r) => ({ ref: r.name, path: r.path }));
  };
  for (const s of ws.segments.values()) refs.set(s.name, check(s.source, s.spec.where, ['where']));
  for (const t of ws.triggers.values()) if (t.spec.audience) check(t.source, t.spec.audience, ['audience']);

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

/** Every `segment:` and `list:` inside a condition, with its path. */
export function conditionRefs(c: Condition, path: (string | number)[]): { kind: 'segment' | 'list'; name: string; path: (string | number)[] }[] {
  const out: { kind: 'segment' | 'list'; name: string; path: (string | number)[] }[] = [];
  eachCondition(c, path, (x, at) => {
    if (x.segment !== undefined) out.push({ kind: 'segment', name: x.segment, path: [...at, 'segment'] });
    if (x.list !== undefined) out.push({ kind: 'list', name: x.list, path: [...at, 'list'] });
  });
  return out;
}

/**
 * The campaigns and triggers that received/opened/clicked conditions read
 * the ledger of. Apart from conditionRefs: a segment reads what a campaign
 * sent, it does not need the campaign deployed with it, so these are no
 * dependencies for plan --target and never make a campaign part of a
 * segment's apply.
 */
export function messageRefs(c: Condition, path: (string | number)[]): { kind: 'campaign' | 'trigger'; name: string; path: (string | number)[] }[] {
  const out: { kind: 'campaign' | 'trigger'; name: string; path: (string | number)[] }[] = [];
  eachCondition(c, path, (x, at) => {
    for (const key of ['received', 'opened', 'clicked'] as const) {
      const f = x[key];
      if (f?.campaign !== undefined) out.push({ kind: 'campaign', name: f.campaign, path: [...at, key, 'campaign'] });
      if (f?.trigger !== undefined) out.push({ kind: 'trigger', name: f.trigger, path: [...at, key, 'trigger'] });
    }
  });
  return out;
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

const RULES: Rule[] = [siteLocales, campaignSitesDefined, campaignReferences, templateLocales, channelLocales, smsProvider, channelSettings, conditionReferences];

export function checkRules(ws: Workspace, failed: Set<string>): Problem[] {
  return RULES.flatMap((rule) => rule(ws, failed));
}
