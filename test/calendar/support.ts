import type { Db } from '../../src/db/db.js';
import type { TestShop } from '../support/shop.js';

/**
 * A shop and workspace for the calendar: one site, a cap of 2 messages per
 * 7 days, three campaigns scheduled in the week of 7 December 2026 (all
 * customers, all customers, the buyers), a birthday trigger, and "now" on
 * 3 December.
 */
export const NOW = '2026-12-03T12:00:00Z';

/** Customers 1–6; 1–3 have ordered (the buyers); 4 has a birthday in the backtest's fortnight. */
export const SHOP: TestShop = {
  customers: [
    { id: 1, email: 'ann@example.com' },
    { id: 2, email: 'bob@example.com' },
    { id: 3, email: 'cat@example.com' },
    { id: 4, email: 'dan@example.com', birthday: '1990-11-25' },
    { id: 5, email: 'eve@example.com', birthday: '1985-11-28' },
    { id: 6, email: 'fay@example.com', email_opt_in: false },
  ],
  orders: [
    { id: 10, customer_id: 1, created_at: '2026-10-01T10:00:00Z' },
    { id: 11, customer_id: 2, created_at: '2026-10-02T10:00:00Z' },
    { id: 12, customer_id: 3, created_at: '2026-10-03T10:00:00Z' },
  ],
};

const TEMPLATE_MJML = `<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} <a href="{{ links.unsubscribe }}">unsubscribe</a> {{ site.postal_address }}</mj-text></mj-column></mj-section></mj-body></mjml>
`;

export function project(cap = '{ max: 2, per: 7d }'): string {
  return `sites:
  - id: shop-en
    name: Shop
    url: https://shop.example.com
    locales: [en]
    default_locale: en
    currency: EUR
    sender:
      from: news@shop.example.com
    postal_address: Shop Ltd, 1 Example Street, 10115 Berlin, Germany
tracking:
  base_url: https://mail.example.com
defaults:
  timezone: Europe/Berlin
  frequency_cap: ${cap}
`;
}

export function campaign(title: string, segment: string, at: string, extra = ''): string {
  return `title: ${JSON.stringify(title)}
site: shop-en
audience:
  segment: ${segment}
template: hello
schedule:
  at: ${at}
status: ready
${extra}`;
}

/** The workspace's files: herald.yaml, two segments, a template, three scheduled campaigns and a birthday trigger. */
export function files(cap?: string): Record<string, string> {
  return {
    'herald.yaml': project(cap),
    'segments/everyone.yaml': 'where:\n  order_count: { gte: 0 }\n',
    'segments/buyers.yaml': 'where:\n  order_count: { gte: 1 }\n',
    'templates/hello/template.yaml': 'subject:\n  en: Hello\n',
    'templates/hello/en.mjml': TEMPLATE_MJML,
    'campaigns/spring-news.yaml': campaign('Spring news', 'everyone', '2026-12-07T09:00:00Z'),
    'campaigns/winter-sale.yaml': campaign('Winter sale', 'everyone', '2026-12-09T09:00:00Z'),
    'campaigns/gift-guide.yaml': campaign('Gift guide', 'buyers', '2026-12-11T09:00:00Z'),
    'triggers/birthday.yaml': 'description: Birthday greeting.\nevent: birthday\ndays_before: 0\ntemplate: hello\nonce: per_year\nstatus: active\n',
  };
}

/**
 * A campaign that already sent: its run, launched on 2 December at 08:00,
 * and four messages sent that morning to customers 1–4 (not 5, to whom it was
 * never sent).
 */
export async function sentCampaign(db: Db, name = 'autumn'): Promise<void> {
  await db.query(
    `INSERT INTO herald.runs (source_kind, source, phase, launched_at, enabled_at, completed_at)
     VALUES ('campaign', $1, 'completed', '2026-12-02T08:00:00Z', '2026-12-02T08:00:00Z', '2026-12-02T08:30:00Z')`,
    [name],
  );
  await db.query(
    `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, worker, sent_at)
     SELECT 'campaign', $1, id, 'c' || id || '@example.com', 'shop-en', 'en', 'sent', 'w', '2026-12-02T08:00:00Z'::timestamptz + id * interval '5 minutes'
       FROM generate_series(1, 4) AS id`,
    [name],
  );
}
