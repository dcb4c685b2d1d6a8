import { ExitError, UserError } from '../../errors.js';
import { autoLoginTokenOf, verifyAutoLoginToken } from '../../links/auto-login.js';
import { linkSecret } from '../../links/secret.js';
import { print, printJson, validWorkspace, withDb, type GlobalOptions } from '../context.js';

/** `herald token verify <token>`: for support staff, what an auto-login link says and whether it still works. */
export default async function token([sub, value]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  if (sub !== 'verify' || !value) throw new UserError('usage: herald token verify <token>', 'the token is the part after token= in an auto-login link');
  const ws = await validWorkspace(opts);
  const secret = await withDb(opts, (db) => linkSecret(db, ws.project.spec.tracking?.secret_env ?? 'HERALD_SECRET'));
  const found = autoLoginTokenOf(value);
  const result = found.ok ? verifyAutoLoginToken(found.token, secret) : found;
  if (opts.json) printJson(result);
  else if (result.ok) print(`valid: customer ${result.login.customerId} on site ${result.login.site}, until ${result.login.expiresAt.toISOString()}`);
  else print(`invalid: ${result.reason}`);
  if (!result.ok) throw new ExitError(1);
}
