import { describe, expect, it } from 'vitest';
import { semanticChecks } from '../../../src/workspace/checks/semantic.js';
import { checkScheduleTime, offsetAt, parseDate } from '../../../src/workspace/checks/semantic-time.js';
import { loadWorkspace, sortProblems } from '../../../src/workspace/load.js';
import { useCleanups } from '../../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../../support/workspace.js';

const cleanup = useCleanups();

/** The semantic problems of MINIMAL with some files replaced, as `file:line:col: message [hint]`. */
async function problems(files: Record<string, string>): Promise<string[]> {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  const loaded = loadWorkspace(ws.dir);
  expect(loaded.problems.filter((p) => p.rule === 'schema' || p.rule === 'yaml')).toEqual([]);
  const found = await semanticChecks(loaded.workspace!, new Set());
  return sortProblems(found).map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}${p.hint ? ` [${p.hint}]` : ''}`);
}

const project = (extra: string) => `${MINIMAL['herald.yaml']}${extra}`;
const campaign = (extra: string) => `${MINIMAL['campaigns/hello.yaml']}${extra}`;
const trigger = (body: string) => `${body}template: hello\n`;

describe('semantic checks', () => {
  it('accepts the minimal workspace', async () => {
    expect(await problems({})).toEqual([]);
  });

  describe('durations', () => {
    it('refuses a zero window where it would match no one', async () => {
      expect(await problems({ 'segments/everyone.yaml': 'where:\n  last_order: { within: 0d }\n' })).toEqual([
        'segments/everyone.yaml:2:25: last_order.within: 0d matches no one: no order is that recent [a duration is more than zero, for example within: 30d]',
      ]);
    });

    it('refuses a duration past 100 years, which would overflow later arithmetic', async () => {
      expect(await problems({ 'segments/everyone.yaml': 'where:\n  order_count: { gte: 1, within: 99999999999999999999d }\n' })).toEqual([
        'segments/everyone.yaml:2:34: order_count.within: 99999999999999999999d is longer than 100 years [use a shorter duration, or leave the key out for no limit]',
      ]);
    });

    it('refuses within and before that leave an empty range', async () => {
      expect(await problems({ 'segments/everyone.yaml': 'where:\n  registered: { within: 30d, before: 90d }\n' })).toEqual([
        'segments/everyone.yaml:2:38: within 30d and before 90d match no one [before must be shorter than within: within: 90d, before: 30d means between 30 and 90 days ago]',
      ]);
      expect(await problems({ 'segments/everyone.yaml': 'where:\n  registered: { within: 90d, before: 30d }\n' })).toEqual([]);
    });

    it('checks conditions at any depth, and in trigger audiences', async () => {
      const deep = 'where:\n  all:\n    - any:\n        - not:\n            purchased: { categories: [shoes], within: 0w }\n';
      expect(await problems({ 'segments/everyone.yaml': deep })).toEqual([
        'segments/everyone.yaml:5:55: purchased.within: 0w matches no one: no order is that recent [a duration is more than zero, for example within: 30d]',
      ]);
      const t = trigger('event: birthday\naudience:\n  in_cart: { skus: [A], within: 2d }\n');
      expect(await problems({ 'triggers/bday.yaml': t })).toEqual([
        'triggers/bday.yaml:3:25: in_cart takes no "within": it looks at what is in the cart now [remove within; for past orders use purchased: {skus: [...], within: 365d}]',
      ]);
    });
  });

  describe('dates', () => {
    it('refuses dates that are not on the calendar', async () => {
      expect(await problems({ 'segments/everyone.yaml': 'where:\n  registered: { since: 2026-02-30 }\n' })).toEqual([
        'segments/everyone.yaml:2:24: since: "2026-02-30" is not a real date: February 2026 has 28 days [write a calendar date as YYYY-MM-DD, for example 2026-01-31]',
      ]);
      expect(parseDate('2028-02-29')).toEqual({ ms: Date.UTC(2028, 1, 29) });
      expect(parseDate('2026-13-01')).toEqual({ error: 'there is no month 13' });
      expect(parseDate('2026-01-01T24:00')).toEqual({ error: 'there is no hour 24' });
      expect(parseDate('2026-01-01T10:00+15:00')).toEqual({ error: 'offset +15:00 does not exist (offsets run from -12:00 to +14:00)' });
    });

    it('wants since before until', async () => {
      expect(await problems({ 'segments/everyone.yaml': 'where:\n  registered: { since: 2026-06-01, until: 2026-01-01 }\n' })).toEqual([
        'segments/everyone.yaml:2:43: until (2026-01-01) is not after since (2026-06-01): the range matches no one [since is the start of the range and until its end]',
      ]);
    });
  });

  describe('schedule', () => {
    it('wants an offset, and offers the workspace time zone\'s', async () => {
      const files = { 'herald.yaml': project('defaults:\n  timezone: Europe/Berlin\n'), 'campaigns/hello.yaml': campaign('schedule:\n  at: "2026-12-01T09:00"\n') };
      expect(await problems(files)).toEqual([
        'campaigns/hello.yaml:8:7: schedule time "2026-12-01T09:00" has no offset [a time without an offset is ambiguous; in Europe/Berlin that is 2026-12-01T09:00+01:00]',
      ]);
    });

    it('uses the offset in force on that date, and a generic example without a valid zone', () => {
      expect(checkScheduleTime('2026-07-01T09:00:00', 'Europe/Berlin')).toMatchObject({ ok: false, hint: expect.stringContaining('2026-07-01T09:00:00+02:00') });
      expect(checkScheduleTime('2026-07-01T09:00', 'Mars/Olympus')).toMatchObject({ ok: false, hint: expect.stringContaining('2026-07-01T09:00+01:00') });
      expect(offsetAt('Asia/Kolkata', Date.UTC(2026, 0, 1))).toBe('+05:30');
      expect(offsetAt('UTC', Date.UTC(2026, 0, 1))).toBe('+00:00');
    });

    it('accepts now and ISO times with an offset', () => {
      for (const at of ['now', '2026-12-01T09:00:00+01:00', '2026-12-01T09:00Z', '2026-12-01T09:00:00.250-05:00']) {
        expect(checkScheduleTime(at, 'UTC')).toEqual({ ok: true });
      }
    });

    it('refuses impossible times and rewrites near misses', () => {
      expect(checkScheduleTime('2026-02-29T09:00:00+01:00', 'UTC')).toMatchObject({ ok: false, message: '"2026-02-29T09:00:00+01:00" is not a real time: February 2026 has 28 days' });
      expect(checkScheduleTime('2026-12-01 09:00+0100', 'UTC')).toMatchObject({ ok: false, hint: 'write it as 2026-12-01T09:00+01:00' });
      expect(checkScheduleTime('tomorrow', 'UTC')).toMatchObject({ ok: false, message: '"tomorrow" is not a time' });
    });
  });

  describe('percentages and A/B tests', () => {
    const ab = (variants: string, extra = '') =>
      campaign(`${extra}ab_test:\n  variants:\n${variants}  test_size: 20%\n  winner: { metric: opens, after: 4h, fallback: a }\n`);

    it('keeps the control group within (0, 50]', async () => {
      expect(await problems({ 'campaigns/hello.yaml': campaign('control_group: 0%\n') })).toEqual([
        'campaigns/hello.yaml:7:16: control_group 0% is out of range: it must be more than 0% and at most 50% [remove control_group to send to everyone]',
      ]);
    });

    it('leaves someone for the winner', async () => {
      const text = ab('    - name: a\n    - name: b\n      subject: { en: Hi }\n', 'control_group: 50%\n').replace('test_size: 20%', 'test_size: 50%');
      expect(await problems({ 'campaigns/hello.yaml': text })).toEqual([
        'campaigns/hello.yaml:13:14: control_group 50% and test_size 50% leave no one for the winning variant [control_group plus test_size must stay under 100%]',
      ]);
    });

    it('refuses duplicate variant names, a missing fallback and identical variants', async () => {
      const text = ab('    - name: a\n    - name: a\n      subject: { en: Hi }\n    - name: c\n').replace('fallback: a', 'fallback: cc');
      expect(await problems({ 'campaigns/hello.yaml': text })).toEqual([
        'campaigns/hello.yaml:10:13: variant name "a" is used twice [give each variant its own name, such as a and b]',
        'campaigns/hello.yaml:12:13: variant "c" sends the same as variant "a" [give each variant its own subject, template or from]',
        'campaigns/hello.yaml:14:49: fallback variant "cc" is not one of the variants [did you mean "c"?]',
      ]);
    });

    it('accepts a control variant beside changed ones', async () => {
      expect(await problems({ 'campaigns/hello.yaml': ab('    - name: a\n    - name: b\n      subject: { en: Hi }\n    - name: c\n      template: hello\n      from: { name: Anna }\n') })).toEqual([]);
    });
  });

  describe('triggers', () => {
    it('wants the parameters an event needs', async () => {
      expect(await problems({ 'triggers/t.yaml': trigger('event: cross_sell_after_purchase\nafter: 3d\n') })).toEqual([
        'triggers/t.yaml:1:8: event cross_sell_after_purchase needs "categories" [add categories: [shoes] (purchased categories that start the trigger)]',
      ]);
      expect(await problems({ 'triggers/t.yaml': trigger('event: order_total_over\n') })).toEqual([
        'triggers/t.yaml:1:8: event order_total_over needs "amount" [add amount: 10000 (the order total, in the site currency, above which to send)]',
      ]);
    });

    it('refuses parameters the event ignores', async () => {
      expect(await problems({ 'triggers/t.yaml': trigger('event: back_in_stock\ndays_before: 3\n') })).toEqual([
        'triggers/t.yaml:2:1: "days_before" does not apply to event back_in_stock [back_in_stock takes no parameters; remove days_before]',
      ]);
      expect(await problems({ 'triggers/t.yaml': trigger('event: birthday\ndays_before: 3\n') })).toEqual([]);
    });

    it('refuses an abandoned cart that is abandoned at once', async () => {
      expect(await problems({ 'triggers/t.yaml': trigger('event: cart_abandoned\nafter: 0h\n') })).toEqual([
        'triggers/t.yaml:2:8: after: 0h would send the moment the cart is filled [a duration is more than zero, for example after: 4h]',
      ]);
    });

    it('checks sites, once and the window overrides', async () => {
      const body = 'event: birthday\nsite: main\nsites: [main]\nonce: 0d\nquiet_hours: { start: "08:00", end: "08:00" }\nfrequency_cap: { max: 1, per: 0h }\n';
      expect(await problems({ 'triggers/t.yaml': trigger(body) })).toEqual([
        'triggers/t.yaml:3:1: give "site" or "sites", not both [site: <id> for one site, sites: [<id>, ...] for several]',
        'triggers/t.yaml:4:7: once: 0d lets the notification repeat without limit [a duration is more than zero, for example once: 30d]',
        'triggers/t.yaml:5:37: quiet hours start and end at the same time (08:00) [give a window such as start: "21:00", end: "09:00"; quiet_hours: false turns them off for this trigger]',
        'triggers/t.yaml:6:31: frequency_cap.per: 0h is no window: the cap would never apply [a duration is more than zero, for example per: 7d]',
      ]);
      expect(await problems({ 'triggers/t.yaml': trigger('event: birthday\nsites: [main, mian]\n') })).toEqual([
        'triggers/t.yaml:2:15: site "mian" is not defined in herald.yaml [did you mean "main"?]',
      ]);
    });
  });

  describe('herald.yaml', () => {
    it('refuses an unknown time zone, with the near one', async () => {
      expect(await problems({ 'herald.yaml': project('defaults:\n  timezone: Europe/Berln\n') })).toEqual([
        'herald.yaml:14:13: "Europe/Berln" is not a time zone [did you mean "Europe/Berlin"?]',
      ]);
      expect(await problems({ 'herald.yaml': project('defaults:\n  timezone: UTC\n') })).toEqual([]);
    });

    it('takes a zone alias that is not in the list of canonical names', async () => {
      expect(Intl.supportedValuesOf('timeZone')).not.toContain('US/Eastern');
      expect(await problems({ 'herald.yaml': project('defaults:\n  timezone: US/Eastern\n') })).toEqual([]);
    });

    it('refuses two environments on one database variable', async () => {
      const envs = 'environments:\n  staging:\n    database_url_env: SHOP_DB\n  production:\n    database_url_env: SHOP_DB\n';
      expect(await problems({ 'herald.yaml': project(envs) })).toEqual([
        'herald.yaml:17:23: environments staging and production both read their database from SHOP_DB [give production its own variable, such as HERALD_PRODUCTION_DATABASE_URL]',
      ]);
    });
  });

  it('refuses an empty numeric range and a site condition naming no site', async () => {
    const where = 'where:\n  any:\n    - total_spent: { gt: 100, lt: 100 }\n    - site: { in: [main, outlet] }\n';
    expect(await problems({ 'segments/everyone.yaml': where })).toEqual([
      'segments/everyone.yaml:3:31: total_spent: gt 100 and lt 100 match no one [gte/gt give the lower bound and lte/lt the upper one]',
      'segments/everyone.yaml:4:26: site "outlet" is not defined in herald.yaml [defined sites: main]',
    ]);
  });

  it('refuses "less than 0" on a count or an amount, which are never negative', async () => {
    const where = 'where:\n  any:\n    - order_count: { lt: 0 }\n    - avg_order_value: { lt: 0 }\n    - total_spent: { lte: 0 }\n';
    expect(await problems({ 'segments/everyone.yaml': where })).toEqual([
      'segments/everyone.yaml:3:22: order_count: lt 0 matches no one: it is never negative [for none at all, write eq: 0]',
      'segments/everyone.yaml:4:26: avg_order_value: lt 0 matches no one: it is never negative [for none at all, write eq: 0]',
    ]);
  });
});
