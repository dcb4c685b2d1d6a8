import { createPublicKey, verify } from 'node:crypto';
import type { Feedback } from '../../events/feedback.js';
import { complaint, envValue, espBounce, espRef, headerOf, obj, parseJson, str, type WebhookHandler } from './esp.js';

/**
 * SendGrid's Event Webhook, signed: ECDSA (P-256, SHA-256) over the
 * X-Twilio-Email-Event-Webhook-Timestamp header followed by the raw body,
 * the signature in X-Twilio-Email-Event-Webhook-Signature (base64 DER),
 * checked with the verification key from SendGrid's Mail Settings (base64
 * DER public key, in the variable webhooks.sendgrid.public_key_env names).
 *
 * The body is an array of events. A message is named by `smtp-id`, the
 * Message-ID herald gave it. bounce → by its status (a `blocked` one is
 * never taken as the address's fault); deferred → soft bounce; spamreport →
 * complaint; the rest (delivered, open, dropped, …) changes nothing here.
 */
export const sendgrid: WebhookHandler = async (req, deps) => {
  const config = deps.project.webhooks?.sendgrid;
  const keyText = config ? envValue(config.public_key_env) : undefined;
  if (!keyText) return { ok: false, code: 401, why: `the verification key is not set ($${config?.public_key_env})` };
  const signature = headerOf(req, 'x-twilio-email-event-webhook-signature');
  const timestamp = headerOf(req, 'x-twilio-email-event-webhook-timestamp');
  if (!signature || !timestamp) return { ok: false, code: 401, why: 'unsigned: no X-Twilio-Email-Event-Webhook-Signature and -Timestamp' };
  let good = false;
  try {
    const key = createPublicKey({ key: Buffer.from(keyText, 'base64'), format: 'der', type: 'spki' });
    good = verify('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), req.body]), key, Buffer.from(signature, 'base64'));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, code: 401, why: 'bad signature' };
  const events = parseJson(req.body);
  if (!Array.isArray(events)) return { ok: false, code: 400, why: 'not an array of SendGrid events' };
  return { ok: true, feedback: events.map((e, i): Feedback => event(obj(e), i, deps)) };
};

function event(e: Record<string, unknown>, i: number, deps: Parameters<WebhookHandler>[1]): Feedback {
  const where = `sendgrid ${str(e.sg_event_id) ?? `#${i + 1}`}`;
  const ref = espRef(deps, { messageId: e['smtp-id'] });
  const at = typeof e.timestamp === 'number' ? new Date(e.timestamp * 1000) : undefined;
  const common = { origin: 'sendgrid' as const, where, ref, recipient: e.email, ...(at ? { at } : {}) };
  switch (e.event) {
    case 'bounce': {
      const blocked = e.type === 'blocked';
      const b = espBounce({ ...common, status: e.status, diagnostic: e.reason, permanent: true, fallback: blocked ? 'policy' : 'other' });
      // A block is the receiver refusing the sender, not the address failing.
      return blocked && b.class === 'hard' ? { ...b, kind: 'soft_bounce', class: 'soft' } : b;
    }
    case 'deferred':
      return espBounce({ ...common, status: e.status, diagnostic: e.response, permanent: false });
    case 'spamreport':
      return complaint({ ...common });
    default:
      return { kind: 'ignored', where, why: `a ${String(e.event).slice(0, 30)} event changes nothing here` };
  }
}
