import { createHash } from 'node:crypto';
import mjml2html from 'mjml';
import { UserError } from '../errors.js';

/**
 * MJML → HTML, once per distinct source: compiling costs ~10 ms, so it is
 * cached by content hash and never repeated per recipient.
 */
const cache = new Map<string, string>();

export async function compileMjml(source: string, file: string): Promise<string> {
  const key = createHash('sha256').update(source).digest('hex');
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const result = await mjml2html(source, { validationLevel: 'soft', keepComments: false });
  if (result.errors.length > 0) {
    const first = result.errors[0]!;
    throw new UserError(`${file}:${first.line}: MJML: ${first.message}`, 'fix the MJML markup; `herald validate` lists every error');
  }
  cache.set(key, result.html);
  return result.html;
}
