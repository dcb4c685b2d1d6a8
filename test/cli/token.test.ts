import { describe, expect, it } from 'vitest';
import { keyId, signAutoLoginToken } from '../../src/index.js';
import { shortToken } from '../../src/links/short.js';
import { clicksToken, clickToken, openToken, recipientUnsubscribeToken, returnPath, unsubscribeToken } from '../../src/links/tracking.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

describe('herald token verify', () => {
  it('says whose a link is and until when, and why a bad one is refused', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const env = { HERALD_SECRET: 'support-secret-0123456789abcdef012345' };
    const token = signAutoLoginToken(7, 'main', 'support-secret-0123456789abcdef012345', { now: new Date('2099-01-01T00:00:00Z') });
    const ok = await herald(['token', 'verify', `https://shop.example.com/auto-login?token=${token}`, '--dir', ws.dir], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('valid: customer 7 on site main, until 2099-01-08T00:00:00.000Z\n');
    // Parameters a newsletter tool or a forward adds are not part of the token: only the token is verified.
    for (const link of [
      `https://shop.example.com/auto-login?token=${token}&utm_source=newsletter&utm_medium=email`,
      `https://shop.example.com/auto-login?utm_source=newsletter&token=${token}#top`,
      `https://shop.example.com/auto-login?token=${token}&amp;utm_campaign=winback`,
    ]) {
      const extra = await herald(['token', 'verify', link, '--dir', ws.dir], env);
      expect({ link, code: extra.code, stdout: extra.stdout }).toEqual({ link, code: 0, stdout: 'valid: customer 7 on site main, until 2099-01-08T00:00:00.000Z\n' });
    }
    const none = await herald(['token', 'verify', 'https://shop.example.com/auto-login?utm_source=x', '--dir', ws.dir], env);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('invalid: not a link herald makes: no token= parameter and no /o/, /c/, /s/, /u/ or /unsubscribe/ path\n');
    const two = await herald(['token', 'verify', `https://shop.example.com/auto-login?token=${token}&token=${token}`, '--dir', ws.dir], env);
    expect(two.code).toBe(1);
    expect(two.stdout).toBe('invalid: the link has 2 token= parameters; a genuine link has one\n');

    const bad = await herald(['token', 'verify', token.slice(0, -2) + 'xx', '--dir', ws.dir], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('invalid: bad signature: the token was altered, or signed with another secret\n');
    // Eight runs of the CLI, each opening the embedded database: room for a busy machine.
  }, 300_000);

  it.skipIf(!serverUrl)('reads every kind of link, with what the ledger says of its message; a previous secret works until it is removed', async () => {
    const db = await createTestDb();
    const ws = tempWorkspace({ ...MINIMAL, 'herald.yaml': MINIMAL['herald.yaml']! + '  previous_secret_envs: [HERALD_OLD_SECRET]\n' });
    cleanup(() => db.dispose(), ws.remove);
    const [current, old] = ['current-secret-0123456789abcdef012345', 'previous-secret-0123456789abcdef01234'];
    const env = { HERALD_SECRET: current, HERALD_OLD_SECRET: old };
    const [m] = await db.query<{ id: string }>(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
       VALUES ('campaign', 'winback', 7, 'anna@example.com', 'main', 'en', 'sent', now()) RETURNING id`,
    );
    const id = Number(m!.id);
    await db.query(`INSERT INTO herald.link_sets (hash, urls) VALUES ('set1', $1)`, [['https://shop.example.com/?utm_source=herald', '{auto_login}&utm_source=herald']]);
    // An SMS's short links: the message's own set.
    await db.query(`INSERT INTO herald.link_sets (hash, urls) VALUES ($1, $2)`, [`msg:${id}`, ['https://shop.example.com/sms?utm_source=herald']]);
    const verify = (text: string, extra: string[] = []) => herald(['token', 'verify', text, '--dir', ws.dir, '--db', db.url!, ...extra], env);
    const of = `of message ${id}: campaign winback, site main, sent`;
    const cases: [string, string][] = [
      [`https://mail.example.com/o/${openToken(id, current)}`, `valid: open pixel ${of}\n`],
      [`https://mail.example.com/c/${clicksToken(id, 'set1', current)}/0`, `valid: click link 0 ${of}; leads to https://shop.example.com/?utm_source=herald\n`],
      [`https://mail.example.com/c/${clickToken(id, 'set1', 0, current)}`, `valid: click link 0 ${of}; leads to https://shop.example.com/?utm_source=herald\n`],
      [`https://mail.example.com/c/${clicksToken(id, 'set1', current)}/1`, `valid: click link 1 ${of}; leads to the customer's auto-login link (then &utm_source=herald)\n`],
      [`https://mail.example.com/s/${shortToken({ message: id, index: 0, push: false }, current)}`, `valid: click link 0 ${of}; leads to https://shop.example.com/sms?utm_source=herald\n`],
      [`https://mail.example.com/s/${shortToken({ message: id, index: 0, push: true }, old)}`, `valid: click link 0 ${of}; leads to https://shop.example.com/sms?utm_source=herald; signed with a previous secret (key id ${keyId(old)})\n`],
      [`https://mail.example.com/u/${unsubscribeToken(id, current)}`, `valid: unsubscribe link ${of}\n`],
      [`https://mail.example.com/unsubscribe/${recipientUnsubscribeToken({ customer: 7, contact: null, site: 'main', source: 'winback' }, current)}`, 'valid: unsubscribe link of customer 7 on site main (winback), from before ledger ids or a preview\n'],
      [returnPath('bounces@mail.example.com', id, current), `valid: return path ${of}\n`],
      [`https://mail.example.com/o/${openToken(id, old)}`, `valid: open pixel ${of}; signed with a previous secret (key id ${keyOf(openToken(id, old))})\n`],
      [`https://mail.example.com/o/${openToken(id + 1000, current)}`, `valid: open pixel of message ${id + 1000} (not in this database's ledger)\n`],
    ];
    for (const [text, expected] of cases) {
      const r = await verify(text);
      expect({ text, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ text, code: 0, stdout: expected, stderr: '' });
    }
    const asJson = await verify(`https://mail.example.com/c/${clicksToken(id, 'set1', current)}/0`, ['--json']);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, kind: 'click', message: id, set: 'set1', index: 0, currentKey: true, ledger: { source: 'winback', site: 'main', destination: 'https://shop.example.com/?utm_source=herald' } });

    const tampered = await verify(`https://mail.example.com/u/${unsubscribeToken(id, current).replace(/\.(.)/, (_, c: string) => `.${c === 'A' ? 'B' : 'A'}`)}`);
    expect({ code: tampered.code, stdout: tampered.stdout }).toEqual({ code: 1, stdout: 'invalid: bad signature: the token was altered, or signed with another secret\n' });
    // The previous secret retired from herald.yaml: what it signed no longer verifies.
    ws.write('herald.yaml', MINIMAL['herald.yaml']!);
    const retired = await verify(`https://mail.example.com/o/${openToken(id, old)}`, ['--json']);
    expect(retired.code).toBe(1);
    expect(JSON.parse(retired.stdout)).toEqual({ ok: false, reason: `signed with a key herald does not have (key id ${keyOf(openToken(id, old))}); was a secret retired from tracking.previous_secret_envs?` });
  }, 600_000);
});

/** The key id a token names. */
function keyOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { k: string }).k;
}
