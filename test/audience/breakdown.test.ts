import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureBreakdown, workspaceQuery, type AudienceQuery } from '../../src/audience/breakdown.js';
import { classifiedSql, controlGroupThreshold, recipientsSql } from '../../src/audience/recipients.js';
import { addSuppression, type AddSuppression } from '../../src/audience/suppressions.js';
import type { Queryable } from '../../src/db/db.js';
import { UserError } from '../../src/errors.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import type { Workspace } from '../../src/workspace/model.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { tempWorkspace } from '../support/workspace.js';

const NOW = new Date('2026-11-20T12:00:00Z');

/*
 * Two sites in the workspace (en, ru) and customer 12 on a third the
 * workspace does not know. Every customer matches the segment `everyone`.
 *
 * id site email                 opt-in suppressed                         bucket            why (first reason wins)
 *  1 en   a1@example.com        yes    –                                  recipients
 *  2 en   NULL                  no     –                                  address_problems  no email (though also opted out)
 *  3 en   '  '                  yes    –                                  address_problems  no email
 *  4 en   not-an-address        yes    –                                  address_problems  invalid email
 *  5 en   'sp ace@example.com'  yes    all sites                          address_problems  invalid email
 *  6 en   o6@example.com        no     all sites                          no_subscription   email_opt_in is false
 *  7 en   U7@Example.COM        yes    all sites (unsubscribed) + en      no_subscription   suppressed: unsubscribed (all sites), counted once
 *  8 en   b8@example.com        yes    en (bounced)                       no_subscription   suppressed: bounced (en)
 *  9 ru   b9@example.com        yes    en (complained): another site      recipients
 * 10 ru   m10@example.com       yes    ru (manual)                        no_subscription   suppressed: manual (ru)
 * 11 ru   r11@example.com       yes    –                                  recipients
 * 12 xx   x12@example.com       yes    –                                  (not in any audience: site xx is not in herald.yaml)
 * 13 ru   r13@example.com, de   yes    –                                  recipients, written in ru (the site's default)
 */
const HERALD_YAML = `sites:
${['en', 'ru']
  .map(
    (id) => `  - id: ${id}
    name: Shop ${id}
    url: https://shop.example.com/${id}
    locales: [${id}]
    default_locale: ${id}
    currency: EUR
    sender:
      from: news@shop.example.com
`,
  )
  .join('')}tracking:
  base_url: https://mail.example.com
`;

const TEMPLATE = {
  'templates/hello/template.yaml': 'subject:\n  en: Hello\n  ru: Привет\n',
  'templates/hello/en.mjml': '<mjml><mj-body><mj-section><mj-column><mj-text>Hi <a href="{{ links.unsubscribe }}">unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>\n',
  'templates/hello/ru.mjml': '<mjml><mj-body><mj-section><mj-column><mj-text>Привет <a href="{{ links.unsubscribe }}">отписаться</a></mj-text></mj-column></mj-section></mj-body></mjml>\n',
};

const campaign = (site: string, extra = '') => `title: Hello\n${site}\naudience:\n  segment: everyone\ntemplate: hello\nstatus: draft\n${extra}`;

let db: TestDb;
let ws: Workspace;
let removeWorkspace: () => void;

beforeAll(async () => {
  const dir = tempWorkspace({
    'herald.yaml': HERALD_YAML,
    'segments/everyone.yaml': 'where:\n  locale: { not_in: [zz] }\n',
    ...TEMPLATE,
    'campaigns/en-only.yaml': campaign('site: en'),
    'campaigns/both.yaml': campaign('sites: [en, ru]'),
    'campaigns/everyone.yaml': campaign('site: en'),
  });
  removeWorkspace = dir.remove;
  const loaded = loadWorkspace(dir.dir);
  if (!loaded.workspace) throw new Error(loaded.problems.map((p) => p.message).join('; '));
  ws = loaded.workspace;
  db = await createTestDb();
  await createShop(db, {
    customers: [
      { id: 1, email: 'a1@example.com', site: 'en', locale: 'en' },
      { id: 2, email: null, site: 'en', locale: 'en', email_opt_in: false },
      { id: 3, email: '  ', site: 'en', locale: 'en' },
      { id: 4, email: 'not-an-address', site: 'en', locale: 'en' },
      { id: 5, email: 'sp ace@example.com', site: 'en', locale: 'en' },
      { id: 6, email: 'o6@example.com', site: 'en', locale: 'en', email_opt_in: false },
      { id: 7, email: 'U7@Example.COM', site: 'en', locale: 'en' },
      { id: 8, email: 'b8@example.com', site: 'en', locale: 'en' },
      { id: 9, email: 'b9@example.com', site: 'ru', locale: 'ru' },
      { id: 10, email: 'm10@example.com', site: 'ru', locale: 'ru' },
      { id: 11, email: 'r11@example.com', site: 'ru', locale: 'ru' },
      { id: 12, email: 'x12@example.com', site: 'xx', locale: 'en' },
      { id: 13, email: 'r13@example.com', site: 'ru', locale: 'de' },
    ],
  });
  const suppress = (s: Partial<AddSuppression> & { email: string }) =>
    addSuppression(db, { site: null, reason: 'manual', source: 'test', note: null, actor: 'test', ...s });
  await suppress({ email: 'sp ace@example.com' });
  await suppress({ email: 'o6@example.com', reason: 'unsubscribed' });
  await suppress({ email: 'u7@example.com', reason: 'unsubscribed' });
  await suppress({ email: 'u7@example.com', site: 'en', reason: 'bounced' });
  await suppress({ email: 'b8@example.com', site: 'en', reason: 'bounced' });
  await suppress({ email: 'b9@example.com', site: 'en', reason: 'complained' });
  await suppress({ email: 'm10@example.com', site: 'ru', reason: 'manual' });
});

afterAll(async () => {
  await db?.dispose();
  removeWorkspace?.();
});

const query = (ref: string) => workspaceQuery(ws, ref, NOW);

/** The classified rows of an audience, as [id, bucket, reason]. */
async function classified(q: AudienceQuery): Promise<[number, string, string][]> {
  const c = classifiedSql(q.schema, q.audience, q.sites, q.control);
  const rows = await db.query<{ customer_id: number; bucket: string; reason: string }>(`SELECT * FROM (${c.text}) AS k ORDER BY customer_id`, c.values);
  return rows.map((r) => [Number(r.customer_id), r.bucket, r.reason]);
}

describe('the mailing-volume breakdown', () => {
  it("counts a segment over the workspace's sites, each customer once under the first reason", async () => {
    const { breakdown } = await measureBreakdown(db, query('segment/everyone'));
    expect(breakdown).toEqual({ in_segment: 12, address_problems: 4, no_subscription: 4, control_group: 0, recipients: 4 });
    expect(await classified(query('segment/everyone'))).toEqual([
      [1, 'recipients', 'recipient'],
      [2, 'address_problems', 'no email'],
      [3, 'address_problems', 'no email'],
      [4, 'address_problems', 'invalid email'],
      [5, 'address_problems', 'invalid email'],
      [6, 'no_subscription', 'email_opt_in is false'],
      [7, 'no_subscription', 'suppressed: unsubscribed (all sites)'],
      [8, 'no_subscription', 'suppressed: bounced (en)'],
      [9, 'recipients', 'recipient'],
      [10, 'no_subscription', 'suppressed: manual (ru)'],
      [11, 'recipients', 'recipient'],
      [13, 'recipients', 'recipient'],
    ]);
  });

  it("counts a campaign on its own sites only", async () => {
    expect((await measureBreakdown(db, query('campaign/en-only'))).breakdown).toEqual({
      in_segment: 8, address_problems: 4, no_subscription: 3, control_group: 0, recipients: 1,
    });
    expect((await measureBreakdown(db, query('campaign/both'))).breakdown).toEqual({
      in_segment: 12, address_problems: 4, no_subscription: 4, control_group: 0, recipients: 4,
    });
  });

  it('agrees with the recipients the ledger materialises, locales resolved', async () => {
    const q = query('segment/everyone');
    const r = recipientsSql(q.schema, q.audience, q.sites);
    const rows = await db.query<{ customer_id: number; email: string; locale: string }>(`${r.text} ORDER BY customer_id`, r.values);
    expect(rows.map((x) => [Number(x.customer_id), x.email, x.locale])).toEqual([
      [1, 'a1@example.com', 'en'],
      [9, 'b9@example.com', 'ru'],
      [11, 'r11@example.com', 'ru'],
      [13, 'r13@example.com', 'ru'],
    ]);
  });

  it('is one statement, samples included', async () => {
    let statements = 0;
    const counting: Queryable = {
      query: (text, values) => {
        statements++;
        return db.query(text, values);
      },
      exec: (script) => db.exec(script),
    };
    await measureBreakdown(counting, query('segment/everyone'));
    await measureBreakdown(counting, query('segment/everyone'), 3);
    expect(statements).toBe(2);
  });

  it('shows up to N example customers per bucket, by id, with what put them there', async () => {
    const { breakdown, samples } = await measureBreakdown(db, query('segment/everyone'), 2);
    expect(breakdown.in_segment).toBe(12);
    expect(samples).toEqual({
      address_problems: [
        { id: 2, email: null, site: 'en', locale: 'en', reason: 'no email' },
        { id: 3, email: '  ', site: 'en', locale: 'en', reason: 'no email' },
      ],
      no_subscription: [
        { id: 6, email: 'o6@example.com', site: 'en', locale: 'en', reason: 'email_opt_in is false' },
        { id: 7, email: 'U7@Example.COM', site: 'en', locale: 'en', reason: 'suppressed: unsubscribed (all sites)' },
      ],
      control_group: [],
      recipients: [
        { id: 1, email: 'a1@example.com', site: 'en', locale: 'en', reason: 'recipient' },
        { id: 9, email: 'b9@example.com', site: 'ru', locale: 'ru', reason: 'recipient' },
      ],
    });
    expect((await measureBreakdown(db, query('segment/everyone'))).samples).toBeUndefined();
  });

  it('names what it cannot find, and asks which of two same-named objects is meant', () => {
    expect(() => query('evryone')).toThrow(UserError);
    expect(() => query('evryone')).toThrow('no segment or campaign named "evryone" in the workspace');
    expect(() => query('everyone')).toThrow('"everyone" is both a segment and a campaign');
    expect(query('campaign/everyone').object).toBe('campaign/everyone');
  });
});

describe('the control group', () => {
  /** The documented hash, computed in Node: what the ledger can use to know who was held out. */
  const heldOut = (campaign: string, id: number, percent: number) =>
    parseInt(createHash('md5').update(`${campaign}:${id}`).digest('hex').slice(0, 8), 16) < controlGroupThreshold(percent);

  it('holds out a deterministic ~N% of the otherwise eligible, the same in SQL and in Node', async () => {
    const big = await createTestDb();
    try {
      // 4000 customers; every tenth has opted out and so is never in the control group.
      await createShop(big, {
        customers: Array.from({ length: 4000 }, (_, i) => ({ id: i + 1, email: `c${i + 1}@example.com`, site: 'en', email_opt_in: (i + 1) % 10 !== 0 })),
      });
      const dir = tempWorkspace({
        'herald.yaml': HERALD_YAML,
        'segments/everyone.yaml': 'where:\n  locale: { not_in: [zz] }\n',
        ...TEMPLATE,
        'campaigns/spring.yaml': campaign('site: en', 'control_group: 10%\n'),
        'campaigns/autumn.yaml': campaign('site: en', 'control_group: 10%\n'),
      });
      const loaded = loadWorkspace(dir.dir);
      dir.remove();
      const spring = workspaceQuery(loaded.workspace!, 'spring', NOW);
      expect(spring.control).toEqual({ campaign: 'spring', percent: 10 });

      const { breakdown } = await measureBreakdown(big, spring);
      expect(breakdown.in_segment).toBe(4000);
      expect(breakdown.no_subscription).toBe(400);
      expect(breakdown.control_group + breakdown.recipients).toBe(3600);
      // 10% of 3600 is 360, with a standard deviation of 18.
      expect(breakdown.control_group).toBeGreaterThan(360 - 60);
      expect(breakdown.control_group).toBeLessThan(360 + 60);

      const held = async (q: AudienceQuery) => {
        const c = classifiedSql(q.schema, q.audience, q.sites, q.control);
        const rows = await big.query<{ customer_id: number }>(`SELECT customer_id FROM (${c.text}) AS k WHERE bucket = 'control_group' ORDER BY 1`, c.values);
        return rows.map((r) => Number(r.customer_id));
      };
      const springHeld = await held(spring);
      expect(springHeld).toHaveLength(breakdown.control_group);
      expect(springHeld).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1).filter((id) => id % 10 !== 0 && heldOut('spring', id, 10)));
      // The same campaign holds out the same customers every time; another campaign, others.
      expect(await held(workspaceQuery(loaded.workspace!, 'spring', new Date()))).toEqual(springHeld);
      const autumnHeld = await held(workspaceQuery(loaded.workspace!, 'autumn', NOW));
      expect(autumnHeld).not.toEqual(springHeld);
      expect(autumnHeld.length).toBeGreaterThan(300);
    } finally {
      await big.dispose();
    }
  });
});
