import { smsAtLongest } from '../workspace/checks/templates-sms.js';
import type { DeployObject } from '../state/objects.js';
import type { Project } from '../workspace/model.js';
import type { AudienceLine } from './plan.js';

/** What a campaign's SMS cost: its recipients on SMS, the parts each takes at most, and the price. */
export interface SmsCost {
  recipients: number;
  /** Parts of the longest SMS the campaign can send (its template's locales, every token at its longest). */
  partsEach: number;
  parts: number;
  /** parts × sms.price_per_part, when herald.yaml gives a price. */
  cost?: { amount: number; currency: string };
}

/**
 * smsCost: for a campaign line whose breakdown has SMS recipients, the parts
 * × recipients and the cost (pure: from the planned specs). An upper bound:
 * each SMS is counted at its longest locale with every token at its longest.
 */
export function smsCost(line: AudienceLine, desired: readonly DeployObject[]): SmsCost | undefined {
  const recipients = line.breakdown?.by_channel?.sms;
  if (!recipients) return undefined;
  const project = desired.find((o) => o.kind === 'project')?.spec as unknown as Project | undefined;
  const campaign = desired.find((o) => o.kind === 'campaign' && o.name === line.campaign)?.spec as { template?: string } | undefined;
  const template = desired.find((o) => o.kind === 'template' && o.name === campaign?.template)?.spec as { sms?: Record<string, string> } | undefined;
  if (!project || !template?.sms) return undefined;
  const partsEach = Math.max(
    1,
    ...Object.entries(template.sms).map(([locale, text]) => smsAtLongest(text, `templates/${campaign!.template}/sms.${locale}.txt`, project)?.encoding.parts ?? 1),
  );
  const price = project.sms?.price_per_part;
  const parts = recipients * partsEach;
  return { recipients, partsEach, parts, ...(price ? { cost: { amount: Math.round(parts * price.amount * 100) / 100, currency: price.currency } } : {}) };
}
