import { createHmac } from 'node:crypto';
import type { Feedback } from '../../events/feedback.js';
import { complaint, envValue, espBounce, espRef, obj, parseJson, sameSecret, str, type WebhookHandler } from './esp.js';

/** How old a signed request may be: enough for a retry queue's delay, too little to keep replaying it. */
export const MAILGUN_MAX_AGE_SECONDS = 15 * 60;

/**
 * Mailgun's webhooks (JSON): `signature: {timestamp, token, signature}`,
 * the signature being HMAC-SHA256 of timestamp + token with the HTTP webhook
 * signing key (in the variable webhooks.mailgun.signing_key_env names). A
 * timestamp more than MAILGUN_MAX_AGE_SECONDS from now is refused, against
 * replays.
 *
 * `event-data`: failed (severity permanent or temporary, delivery-status
 * with the server's code) → bounce or soft bounce; complained → complaint.
 * The message: envelope.sender (our VERP address), else the Message-ID.
 */
export const mailgun: WebhookHandler = async (req, deps) => {
  const config = deps.project.webhooks?.mailgun;
  const key = config ? envValue(config.signing_key_env) : undefined;
  if (!key) return { ok: false, code: 401, why: `the signing key is not set ($${config?.signing_key_env})` };
  const body = obj(parseJson(req.body));
  const sig = obj(body.signature);
  const timestamp = str(sig.timestamp);
  const token = str(sig.token);
  const signature = str(sig.signature);
  if (!timestamp || !token || !signature) return { ok: false, code: 401, why: 'unsigned: no signature {timestamp, token, signature}' };
  if (!sameSecret(createHmac('sha256', key).update(timestamp + token).digest('hex'), signature.toLowerCase())) return { ok: false, code: 401, why: 'bad signature' };
  const now = (deps.clock ?? (() => new Date()))().getTime() / 1000;
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp)) > MAILGUN_MAX_AGE_SECONDS) return { ok: false, code: 401, why: 'signature too old (or from the future): a replay?' };
  const e = obj(body['event-data']);
  if (!e.event) return { ok: false, code: 400, why: 'no event-data' };
  return { ok: true, feedback: [event(e, deps)] };
};

function event(e: Record<string, unknown>, deps: Parameters<WebhookHandler>[1]): Feedback {
  const where = `mailgun ${str(e.id) ?? ''}`.trim();
  const message = obj(e.message);
  const ref = espRef(deps, { sender: obj(e.envelope).sender, messageId: obj(message.headers)['message-id'] });
  const at = typeof e.timestamp === 'number' ? new Date(e.timestamp * 1000) : undefined;
  const common = { origin: 'mailgun' as const, where, ref, recipient: e.recipient, ...(at ? { at } : {}) };
  if (e.event === 'failed') {
    const ds = obj(e['delivery-status']);
    const permanent = e.severity === 'permanent';
    // Mailgun's own reason says what a bare 550 means: `bounce` is the address.
    const fallback = e.reason === 'bounce' || e.reason === 'suppress-bounce' ? 'hard' : 'other';
    return espBounce({ ...common, status: str(ds['enhanced-code']), diagnostic: [str(ds.code), str(ds.message) ?? str(ds.description)].filter(Boolean).join(' '), permanent, fallback });
  }
  if (e.event === 'complained') return complaint(common);
  return { kind: 'ignored', where, why: `a ${String(e.event).slice(0, 30)} event changes nothing here` };
}
