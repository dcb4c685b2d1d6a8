import { describe, expect, it } from 'vitest';
import { signAutoLoginToken } from '../../src/index.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
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
    expect(none.stdout).toBe('invalid: the link has no token= parameter\n');
    const two = await herald(['token', 'verify', `https://shop.example.com/auto-login?token=${token}&token=${token}`, '--dir', ws.dir], env);
    expect(two.code).toBe(1);
    expect(two.stdout).toBe('invalid: the link has 2 token= parameters; a genuine link has one\n');

    const bad = await herald(['token', 'verify', token.slice(0, -2) + 'xx', '--dir', ws.dir], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('invalid: bad signature: the token was altered, or signed with another secret\n');
    // Eight runs of the CLI, each opening the embedded database: room for a busy machine.
  }, 300_000);
});
