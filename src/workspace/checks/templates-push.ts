import type { Problem } from '../../errors.js';
import type { Entry, Project, PushNotification } from '../model.js';
import { problemAt } from '../source.js';
import { longestContext, longestLinks, renderLongest } from './templates-longest.js';

/**
 * A push notification: its addresses are addresses, and its payload, with
 * every token at its longest and encrypted for web push, fits what push
 * services accept. A larger one is refused at send time with 413 for every
 * recipient; here it is one error before anything is sent.
 */

/** RFC 8030: a push service must accept at least this much encrypted payload, and the common ones accept no more. */
export const PUSH_PAYLOAD_LIMIT = 4096;

/** RFC 8188 aes128gcm as web push uses it (RFC 8291): an 86-byte header, a 16-byte tag and one padding delimiter. */
export const PUSH_ENCRYPTION_OVERHEAD = 86 + 16 + 1;

const ADDRESS_FIELDS = ['url', 'icon', 'image'] as const;

export function pushProblems(e: Entry<PushNotification>, project: Project): Problem[] {
  const out: Problem[] = [];
  const name = e.source.file.slice(e.source.file.lastIndexOf('/') + 1);
  for (const field of ADDRESS_FIELDS) {
    const value = e.spec[field];
    if (value === undefined || /^https?:\/\//.test(value) || /^\s*\{\{/.test(value)) continue;
    out.push(problemAt(e.source, [field], `${field} "${value.length > 60 ? `${value.slice(0, 57)}...` : value}" is not an http(s) address or a token`, 'push', {
      hint: field === 'url' ? 'write https://… or a token such as {{ cart.url }}; a tap opens it' : 'write https://… or a token such as {{ products[0].image_url }}',
    }));
  }
  const links = longestLinks(project);
  const render = (value: string | undefined, link: string): string | null | undefined => {
    if (value === undefined) return null;
    return renderLongest(value, e.source.file, longestContext(project, value, link));
  };
  // The url becomes a click tracking link; images are fetched as written.
  const payload = {
    title: render(e.spec.title, links.untracked),
    body: render(e.spec.body, links.untracked),
    url: e.spec.url === undefined ? null : links.click,
    icon: render(e.spec.icon, links.untracked),
    image: render(e.spec.image, links.untracked),
  };
  if (Object.values(payload).some((v) => v === undefined)) return out;
  const bytes = Buffer.byteLength(JSON.stringify(payload)) + PUSH_ENCRYPTION_OVERHEAD;
  if (bytes > PUSH_PAYLOAD_LIMIT) {
    out.push(problemAt(e.source, [], `${name} makes a payload of ${bytes.toLocaleString('en')} bytes encrypted, with every token at its longest: push services refuse more than ${PUSH_PAYLOAD_LIMIT.toLocaleString('en')} (413)`, 'push', {
      hint: 'shorten the body (a phone shows a few lines of it) or the title, or use shorter tokens',
    }));
  }
  return out;
}
