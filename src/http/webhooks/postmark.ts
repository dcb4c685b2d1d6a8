import type { Feedback } from '../../events/feedback.js';
import type { BounceClass } from '../../events/dsn.js';
import { complaint, envValue, espBounce, espRef, headerOf, obj, parseJson, sameSecret, str, type WebhookHandler } from './esp.js';

/**
 * Postmark's bounce and spam-complaint webhooks. Postmark does not sign
 * them; it sends the basic-auth credentials put in the webhook's URL
 * (https://user:password@…/webhooks/postmark), checked here in constant
 * time against webhooks.postmark.user and the variable password_env names.
 *
 * The message, strongest first: the Message-ID among the payload's
 * Headers (or in its Content, when the webhook includes it); Metadata.herald,
 * a ledger id, when the message carried it (X-PM-Metadata-herald); else the
 * latest message herald sent to Email, which is a guess a repeated address
 * can get wrong and which reads the ledger by address (docs/bounces.md).
 */
const TYPES: Record<string, { permanent: boolean; class: BounceClass }> = {
  HardBounce: { permanent: true, class: 'hard' },
  BadEmailAddress: { permanent: true, class: 'hard' },
  SoftBounce: { permanent: false, class: 'soft' },
  Transient: { permanent: false, class: 'soft' },
  DnsError: { permanent: false, class: 'soft' },
  Blocked: { permanent: true, class: 'policy' },
  DMARCPolicy: { permanent: true, class: 'policy' },
  SpamNotification: { permanent: true, class: 'policy' },
};

export const postmark: WebhookHandler = async (req, deps) => {
  const config = deps.project.webhooks?.postmark;
  const password = config ? envValue(config.password_env) : undefined;
  if (!config || !password) return { ok: false, code: 401, why: `the password is not set ($${config?.password_env})` };
  const auth = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(headerOf(req, 'authorization') ?? '');
  if (!auth) return { ok: false, code: 401, why: 'no basic-auth credentials' };
  const text = Buffer.from(auth[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  // Both compared, whatever the first says, so the time taken tells nothing.
  const userOk = sameSecret(text.slice(0, Math.max(colon, 0)), config.user);
  const passwordOk = sameSecret(text.slice(colon + 1), password);
  if (colon < 0 || !userOk || !passwordOk) return { ok: false, code: 401, why: 'bad credentials' };
  const p = obj(parseJson(req.body));
  if (!p.RecordType) return { ok: false, code: 400, why: 'not a Postmark webhook payload' };
  return { ok: true, feedback: [event(p, deps)] };
};

function event(p: Record<string, unknown>, deps: Parameters<WebhookHandler>[1]): Feedback {
  const where = `postmark ${str(p.ID) ?? str(p.MessageID) ?? ''}`.trim();
  const at = typeof p.BouncedAt === 'string' ? new Date(p.BouncedAt) : undefined;
  const ref = espRef(deps, { messageId: messageIdOf(p), ledgerId: obj(p.Metadata).herald, email: p.Email });
  const common = { origin: 'postmark' as const, where, ref, recipient: p.Email, ...(at ? { at } : {}) };
  if (p.RecordType === 'SpamComplaint' || p.Type === 'SpamComplaint') return complaint(common);
  if (p.RecordType !== 'Bounce') return { kind: 'ignored', where, why: `a ${String(p.RecordType).slice(0, 30)} record changes nothing here` };
  const t = TYPES[String(p.Type)];
  if (!t) return { kind: 'ignored', where, why: `a ${String(p.Type).slice(0, 30)} bounce (autoresponder, subscription, …) changes nothing here` };
  return espBounce({ ...common, diagnostic: str(p.Details) ?? str(p.Description), permanent: t.permanent, fallback: t.class });
}

/** Our Message-ID, if the payload carries the message's headers. */
function messageIdOf(p: Record<string, unknown>): string | undefined {
  if (Array.isArray(p.Headers)) {
    const h = p.Headers.map(obj).find((x) => String(x.Name).toLowerCase() === 'message-id');
    if (h && typeof h.Value === 'string') return h.Value;
  }
  if (typeof p.Content === 'string') return /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(p.Content)?.[1];
  return undefined;
}
