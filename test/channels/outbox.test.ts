import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { composeMessage } from '../../src/channels/email/compose.js';
import { outboxTransport } from '../../src/channels/email/transport.js';
import { outboxPushSenders } from '../../src/channels/push/outbox.js';
import { outboxSmsProvider } from '../../src/channels/sms/outbox.js';
import { UserError } from '../../src/errors.js';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});
function folder(): string {
  const d = mkdtempSync(join(tmpdir(), 'herald-outbox-'));
  made.push(d);
  return d;
}

const email = composeMessage({ from: { address: 'shop@example.com' }, to: 'anna@example.com', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi', messageId: 'c.1@example.com' });
/** Each outbox writer, writing one message into `outbox` (sub: the folder it writes into). */
const writers: { name: string; sub: string; write: (outbox: string) => Promise<unknown> }[] = [
  { name: 'email, a campaign', sub: 'spring', write: (o) => outboxTransport(o).send(email, { source: 'spring', ledgerId: 1 }) },
  { name: 'email, a trigger', sub: 'triggers', write: (o) => outboxTransport(o).send(email, { source: 'triggers/welcome', ledgerId: 2 }) },
  { name: 'SMS', sub: 'sms', write: (o) => outboxSmsProvider(o).send({ to: '+4915111111111', from: 'Shop', text: 'Hi' }) },
  { name: 'push', sub: 'push', write: (o) => outboxPushSenders(o).fcm!({ id: 3, token: 't' }, { title: 'Hi', body: 'Hi', url: 'https://shop.example.com/', icon: null, image: null }) },
];

describe('the outbox', () => {
  for (const w of writers) {
    it(`writes ${w.name} into a folder of its own, and not through a link committed in its place`, async () => {
      const outbox = folder();
      await w.write(outbox);
      expect(readdirSync(join(outbox, w.sub)).length).toBeGreaterThan(0);

      // A pull request commits .herald/outbox/<folder> as a link elsewhere: herald wrote through it.
      const elsewhere = folder();
      const linked = folder();
      symlinkSync(elsewhere, join(linked, w.sub));
      const err = await w.write(linked).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toBe(`cannot write to the outbox: ${join(linked, w.sub)} is a symbolic link; herald writes the outbox into folders of its own`);
      expect(readdirSync(elsewhere)).toEqual([]);
    });
  }

  it('names a file standing where its folder goes, and leaves it', async () => {
    const outbox = folder();
    writeFileSync(join(outbox, 'sms'), 'notes');
    await expect(writers[2]!.write(outbox)).rejects.toThrow(`cannot write to the outbox: ${join(outbox, 'sms')} is a file, not a folder`);
    mkdirSync(join(outbox, 'push'));
    await writers[3]!.write(outbox);
  });
});
