import type { Project, Site } from '../workspace/model.js';
import { signAutoLoginToken } from './auto-login.js';
import { signToken } from './token.js';

/**
 * Every link herald itself puts into a message, built in this one place:
 * unsubscribe (page and mailto, also used by the List-Unsubscribe header) and
 * auto-login. Click tracking will wrap the rendered HTML's links where
 * render/message.ts finishes a message, so templates never change for it.
 */
export interface MessageLinks {
  unsubscribe: string;
  unsubscribeMailto: string;
  autoLogin: string;
}

export function messageLinks(o: {
  project: Project;
  site: Site;
  secret: string;
  now: Date;
  recipient: { customer_id: number | null; contact_id?: number | null; site: string };
  source: { name: string };
}): MessageLinks {
  const r = o.recipient;
  // A list's contact who is not a customer is named by contact id instead.
  const who = r.customer_id !== null ? { c: r.customer_id } : { k: r.contact_id ?? null };
  const token = signToken({ p: 'unsubscribe', ...who, s: r.site, m: o.source.name }, o.secret);
  const base = (o.project.tracking?.base_url ?? o.site.url).replace(/\/+$/, '');
  const siteUrl = o.site.url.replace(/\/+$/, '');
  return {
    unsubscribe: `${base}/unsubscribe/${token}`,
    unsubscribeMailto: `mailto:${o.site.sender.reply_to ?? o.site.sender.from}?subject=unsubscribe%20${token}`,
    // Only a shop customer has an account to log into; a list's contact gets the plain site link.
    autoLogin:
      r.customer_id !== null
        ? `${siteUrl}${o.site.auto_login_path ?? '/auto-login'}?token=${signAutoLoginToken(r.customer_id, r.site, o.secret, { now: o.now })}`
        : siteUrl,
  };
}
