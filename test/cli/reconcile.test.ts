import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { openDb } from '../../src/db/db.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { closedPort } from '../support/ports.js';
import { MINIMAL, exampleWorkspace, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

/** A workspace and a database the CLI subprocess can use: a server database, or a PGlite folder inside the workspace. */
async function setup() {
  const ws = tempWorkspace(MINIMAL);
  cleanup(ws.remove);
  if (!serverUrl) {
    // plan checks the shop's tables up front: an empty shop in the embedded database the CLI will open.
    const embedded = await openDb(join(ws.dir, '.herald', 'db'));
    await createShop(embedded, { customers: [] });
    await embedded.close();
    return { ws, db: ['--dir', ws.dir] };
  }
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, { customers: [] });
  return { ws, db: ['--dir', ws.dir, '--db', db.url!] };
}

describe('reconciler commands', () => {
  it('plan --out, then apply exactly that file; history and state explain what is deployed', async () => {
    const { ws, db } = await setup();
    const planFile = join(ws.dir, 'plan.json');
    const plan = await herald(['plan', '--out', planFile, '--detailed-exitcode', ...db]);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('+ create campaign/hello');
    expect(plan.stdout).toContain(`Saved the plan to ${planFile}.`);
    expect(JSON.parse(readFileSync(planFile, 'utf8'))).toMatchObject({ version: 2, summary: { create: 4 } });

    const apply = await herald(['apply', planFile, ...db]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 4 created, 0 updated, 0 deleted, 0 archived.');

    // The same file again is stale: the deployed state moved on.
    const again = await herald(['apply', planFile, ...db]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/herald: the plan is stale: the deployed state changed since it was made \(campaign\/hello appeared/);

    const none = await herald(['plan', '--detailed-exitcode', ...db]);
    expect(none.code).toBe(0);

    const history = await herald(['history', 'segment/everyone', ...db]);
    expect(history.stdout).toMatch(/^segment\/everyone: 1 version\n {2}v1 {2}create +\d{4}-/);
    const state = await herald(['state', 'list', ...db]);
    expect(state.stdout).toMatch(/campaign\/hello +v1 .* ready/);
    const show = await herald(['state', 'show', 'segment/everyone', ...db]);
    expect(show.stdout).toContain('where:\n  order_count:\n    gte: 0');

    const bad = await herald(['history', 'segments/everyone', ...db]);
    expect(bad.stderr).toContain('herald: "segments/everyone" is not kind/name');
  });

  it('apply --auto-approve --target applies that object and what it uses, leaving the rest for later', async () => {
    const { ws, db } = await setup();
    expect((await herald(['apply', '--auto-approve', ...db])).code).toBe(0);
    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 1 }\n');
    ws.write('templates/hello/template.yaml', 'subject:\n  en: Hi {{ customer.first_name }}\n');

    const targeted = await herald(['apply', '--auto-approve', '--target', 'segment/everyone', ...db]);
    expect(targeted.stderr).toBe('');
    expect(targeted.code).toBe(0);
    expect(targeted.stdout).toContain('~ update segment/everyone');
    expect(targeted.stdout).not.toContain('template/hello');
    expect(targeted.stdout).toContain('Apply complete: 0 created, 1 updated, 0 deleted, 0 archived.');

    // A saved targeted plan applies too, and the untargeted change is still waiting.
    const planFile = join(ws.dir, 'plan.json');
    const plan = await herald(['plan', '--target', 'template/hello', '--out', planFile, ...db]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('~ update template/hello');
    const apply = await herald(['apply', planFile, ...db]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 0 created, 1 updated, 0 deleted, 0 archived.');
    expect((await herald(['plan', '--detailed-exitcode', ...db])).code).toBe(0);
  });

  it('pause records drift that plan shows and apply keeps; resume takes it back', async () => {
    const { db } = await setup();
    expect((await herald(['apply', '--auto-approve', ...db])).code).toBe(0);
    const noReason = await herald(['pause', 'hello', ...db]);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");

    const pause = await herald(['pause', 'hello', '--reason', 'wrong price', ...db]);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout).toMatch(/campaign hello is now paused \(git says ready\); recorded as drift by /);

    const refresh = await herald(['plan', '--refresh-only', '--detailed-exitcode', ...db]);
    expect(refresh.code).toBe(2);
    expect(refresh.stdout).toMatch(/≠ drift campaign\/hello\n {4}deployed: paused by .* \(wrong price\); workspace: ready/);

    const send = await herald(['send', 'hello', ...db]);
    expect(send.code).toBe(1);
    expect(send.stderr).toContain('campaign "hello" is paused (set by');

    const resume = await herald(['resume', 'hello', '--reason', 'fixed', ...db]);
    expect(resume.stdout).toBe('campaign hello is ready, as its file says.\n');
    expect((await herald(['plan', '--refresh-only', '--detailed-exitcode', ...db])).code).toBe(0);
  });

  it('pause and resume a trigger: drift plan shows; a trigger cannot be cancelled; a name that is both needs its kind', async () => {
    const { ws, db } = await setup();
    ws.write('triggers/cart.yaml', 'event: cart_abandoned\nafter: 4h\ntemplate: hello\nstatus: active\n');
    expect((await herald(['apply', '--auto-approve', ...db])).code).toBe(0);
    const pause = await herald(['pause', 'cart', '--reason', 'reviews page down', ...db]);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout).toMatch(/trigger cart is now paused \(git says active\); recorded as drift by /);
    const refresh = await herald(['plan', '--refresh-only', '--detailed-exitcode', ...db]);
    expect(refresh.code).toBe(2);
    expect(refresh.stdout).toMatch(/≠ drift trigger\/cart\n {4}deployed: paused by .* \(reviews page down\); workspace: active/);
    expect(refresh.stdout).toContain('Drift: 1 trigger changed outside git.');
    const cancel = await herald(['cancel', 'cart', '--reason', 'x', ...db]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain('a trigger cannot be cancelled');
    const resume = await herald(['resume', 'cart', '--reason', 'back up', ...db]);
    expect(resume.stdout).toBe('trigger cart is active, as its file says.\n');

    ws.write('triggers/hello.yaml', 'event: cart_abandoned\nafter: 4h\ntemplate: hello\nstatus: active\n');
    expect((await herald(['apply', '--auto-approve', ...db])).code).toBe(0);
    const both = await herald(['pause', 'hello', '--reason', 'x', ...db]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('"hello" is both a campaign and a trigger');
    const named = await herald(['pause', 'trigger/hello', '--reason', 'x', ...db]);
    expect(named.stdout).toMatch(/^trigger hello is now paused/);
  });

  it('--env reads the database URL from the variable herald.yaml names', async () => {
    const { ws } = await setup();
    ws.write('herald.yaml', MINIMAL['herald.yaml']! + 'environments:\n  staging:\n    database_url_env: HERALD_TEST_STAGING_URL\n');
    const missing = await herald(['plan', '--env', 'staging', '--dir', ws.dir]);
    expect(missing.stderr).toContain('herald: environment "staging" reads its database URL from $HERALD_TEST_STAGING_URL, which is not set');
    const unknown = await herald(['plan', '--env', 'prod', '--dir', ws.dir]);
    expect(unknown.stderr).toContain('herald: environment "prod" is not defined in herald.yaml\n  hint: defined environments: staging');
    const staging = join(ws.dir, '.herald', 'staging');
    const shop = await openDb(staging);
    await createShop(shop, { customers: [] });
    await shop.close();
    const ok = await herald(['plan', '--env', 'staging', '--dir', ws.dir], { HERALD_TEST_STAGING_URL: staging });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Environment staging runs nothing applied yet; workspace at');
  }, 300_000);

  it('apply --reviewed applies the plan approved on the pull request, and refuses a stale one with nothing applied', async () => {
    const { ws, db } = await setup();
    const reviewed = JSON.parse((await herald(['plan', '--json', ...db])).stdout) as { review: string };
    expect(reviewed.review).toMatch(/^[0-9a-f]{64}$/);
    // The same workspace and deployed state plan to the same fingerprint, whenever and from whichever commit.
    expect((JSON.parse((await herald(['plan', '--json', ...db])).stdout) as { review: string }).review).toBe(reviewed.review);

    // main moved between the review and the merge: the campaign changed.
    const file = 'campaigns/hello.yaml';
    const before = readFileSync(join(ws.dir, file), 'utf8');
    ws.write(file, before.replace(/^title: .*$/m, 'title: Changed after the review'));
    const stale = await herald(['apply', '--reviewed', reviewed.review, ...db]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('herald: stale plan, re-review: the plan for environment (default) is not the one reviewed on the pull request');
    expect(stale.stderr).toContain('nothing was applied');
    expect((await herald(['state', 'list', ...db])).stdout).not.toContain('campaign/hello');

    ws.write(file, before);
    const ok = await herald(['apply', '--reviewed', reviewed.review, ...db]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Apply complete: 4 created');
    // Applied: the same review is now stale too, since the deployed state is what it changed.
    const twice = await herald(['apply', '--reviewed', reviewed.review, ...db]);
    expect(twice.stderr).toContain('stale plan, re-review');

    const bad = await herald(['apply', '--reviewed', 'abc', ...db]);
    expect(bad.stderr).toContain('herald: --reviewed wants the 64-hex review fingerprint of a plan, not "abc"');
  }, 300_000);

  it("--env takes the environment's own SMTP URL and never falls back to the default one", async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const yaml = readFileSync(join(ws.dir, 'herald.yaml'), 'utf8');
    const production = '  production:\n    database_url_env: HERALD_PRODUCTION_DATABASE_URL\n';
    expect(yaml).toContain(production);
    ws.write('herald.yaml', yaml.replace(production, '  production:\n    database_url_env: HERALD_TEST_PROD_URL\n    smtp_url_env: HERALD_TEST_PROD_SMTP\n'));
    const sink = await startSmtpSink();
    cleanup(() => sink.close());
    const wrong = `smtp://127.0.0.1:${await closedPort()}`;
    const dbUrl = serverUrl ? (await (async () => { const d = await createTestDb(); cleanup(() => d.dispose()); await createShop(d, { customers: [] }); return d.url!; })()) : join(ws.dir, '.herald', 'db');
    const args = ['test-send', 'winback', '--to', 'm@example.com', '--env', 'production', '--dir', ws.dir];
    const sent = await herald(args, { HERALD_TEST_PROD_URL: dbUrl, HERALD_TEST_PROD_SMTP: sink.url, HERALD_SMTP_URL: wrong });
    expect(sent.code, sent.stderr).toBe(0);
    expect(sink.messages.map((m) => m.subject)).toHaveLength(1);
  }, 300_000);
});
