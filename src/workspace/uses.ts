import type { MessageSource, TemplateSpec } from '../render/message.js';
import type { TokenContext } from '../render/tokens.js';
import { desiredObjects } from '../state/objects.js';
import { campaignSites, type Variant, type Workspace } from './model.js';

/**
 * Every way the workspace sends a template: each campaign (once per A/B
 * variant) and each trigger, with the sites it sends for. Preview renders
 * these, and the link checks hold each template to the domains of its sites.
 */
export interface TemplateUse {
  kind: 'campaign' | 'trigger' | 'template';
  /** The campaign's or trigger's name; for an unused template, the template's. */
  name: string;
  title: string;
  template: string;
  variant?: Variant;
  sites: string[];
  personalizedGreeting: boolean;
  /** What tokens the message has (see render/tokens.ts). */
  context: TokenContext;
  /** A campaign's SKUs, for the products token. */
  products: string[];
}

export function templateUses(ws: Workspace, opts: { unused?: boolean } = {}): TemplateUse[] {
  const out: TemplateUse[] = [];
  for (const c of ws.campaigns.values()) {
    const a = c.spec.audience;
    const context: TokenContext = a.segment !== undefined || a.segments !== undefined ? 'campaign' : 'list';
    const base = {
      kind: 'campaign' as const,
      name: c.name,
      title: c.spec.title,
      sites: campaignSites(c.spec),
      personalizedGreeting: c.spec.personalized_greeting ?? false,
      context,
      products: c.spec.products ?? [],
    };
    const variants = c.spec.ab_test?.variants;
    if (!variants) out.push({ ...base, template: c.spec.template });
    else for (const v of variants) out.push({ ...base, template: v.template ?? c.spec.template, variant: v });
  }
  for (const t of ws.triggers.values()) {
    const sites = campaignSites(t.spec);
    out.push({
      kind: 'trigger',
      name: t.name,
      title: t.spec.description ?? t.name,
      template: t.spec.template,
      // A trigger without sites sends for every site.
      sites: sites.length > 0 ? sites : ws.project.spec.sites.map((s) => s.id),
      // A notification about the customer's own event always greets them by name when it can.
      personalizedGreeting: true,
      context: t.spec.event,
      products: [],
    });
  }
  if (opts.unused) {
    const used = new Set(out.map((u) => u.template));
    for (const t of ws.templates.values()) if (!used.has(t.name)) out.push(templateOnlyUse(ws, t.name));
  }
  return out;
}

/** A template on its own, as nothing uses it yet: on every site, with a campaign's tokens. */
export function templateOnlyUse(ws: Workspace, name: string): TemplateUse {
  const t = ws.templates.get(name)!;
  return { kind: 'template', name, title: t.spec.description ?? name, template: name, sites: ws.project.spec.sites.map((s) => s.id), personalizedGreeting: true, context: 'campaign', products: [] };
}

/** The working copy's templates as deployed specs (partials inlined): what previews and test sends render. */
export function workingTemplates(ws: Workspace): Map<string, TemplateSpec> {
  return new Map(desiredObjects(ws).filter((o) => o.kind === 'template').map((o) => [o.name, o.spec as unknown as TemplateSpec]));
}

/** What the renderer needs to know of a use: a campaign (a template on its own renders as one) or a trigger. */
export function messageSource(use: TemplateUse, templates: ReadonlyMap<string, TemplateSpec>): MessageSource {
  return {
    kind: use.kind === 'trigger' ? 'trigger' : 'campaign',
    name: use.name,
    title: use.title,
    personalizedGreeting: use.personalizedGreeting,
    templateName: use.template,
    template: templates.get(use.template)!,
    ...(use.variant ? { variant: use.variant } : {}),
  };
}
