import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { linkSecret } from '../../src/links/secret.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, type TestDb } from '../support/db.js';

const cleanup = useCleanups();
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(() => db?.dispose());

/** linkSecret with the variable set to `value` (unset when undefined). */
async function secretWith(value: string | undefined, name = 'HERALD_TEST_LINK_SECRET'): Promise<string> {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  cleanup(() => void delete process.env[name]);
  return linkSecret(db, name);
}

describe('link-signing secret', () => {
  it('refuses a secret shorter than 32 bytes, without printing it, and says how to make one', async () => {
    for (const short of ['Z', 'k7#'.repeat(10), 'é'.repeat(15)]) {
      const err = await secretWith(short).catch((e: unknown) => e);
      expect(err, short).toBeInstanceOf(UserError);
      const { message, hint } = err as UserError;
      expect(message).toBe(`$HERALD_TEST_LINK_SECRET is ${Buffer.byteLength(short)} byte${short === 'Z' ? '' : 's'} long; a link-signing secret needs at least 32 bytes`);
      expect(hint).toMatch(/openssl rand -base64 32/);
      expect(`${message} ${hint}`).not.toContain(short);
    }
  });

  it('takes one of 32 bytes or more, counted in bytes', async () => {
    expect(await secretWith('s'.repeat(32))).toBe('s'.repeat(32));
    expect(await secretWith('é'.repeat(16))).toBe('é'.repeat(16));
  });

  it('without the variable, generates one of 32 random bytes and keeps it in the database', async () => {
    const first = await secretWith(undefined);
    expect(Buffer.from(first, 'base64url')).toHaveLength(32);
    expect(await secretWith(undefined)).toBe(first);
  });
});
