import { createVerify } from 'node:crypto';
import type { Feedback } from '../../events/feedback.js';
import { complaint, espBounce, espRef, obj, parseJson, str, type WebhookHandler } from './esp.js';
import type { ServerDeps } from '../deps.js';

/** Amazon's SNS hosts: the only signing certificates and subscribe URLs trusted unless herald.yaml says otherwise. */
export const DEFAULT_CERT_URL = '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/';

/**
 * Amazon SES notifications through SNS. Each request is checked as Amazon
 * documents: its TopicArn must be webhooks.ses.topic_arn; its
 * SigningCertURL must match webhooks.ses.cert_url (by default Amazon's SNS
 * hosts over https); the certificate fetched from there must verify the
 * Signature over the fields SNS signs for its Type (SignatureVersion 1:
 * SHA1, 2: SHA256). A SubscriptionConfirmation is confirmed by fetching its
 * SubscribeURL, only when that URL matches the same pattern.
 *
 * The notification (SES's notificationType, or eventType for configuration
 * set events): Bounce (Permanent → by status, Transient and Undetermined →
 * soft) and Complaint. The message: mail.source, our VERP envelope sender,
 * else mail.commonHeaders.messageId.
 */
export const ses: WebhookHandler = async (req, deps) => {
  const config = deps.project.webhooks?.ses;
  if (!config) return { ok: false, code: 401, why: 'webhooks.ses is not configured' };
  const m = obj(parseJson(req.body));
  const type = str(m.Type);
  if (!type || !str(m.Signature) || !str(m.SigningCertURL)) return { ok: false, code: 401, why: 'unsigned: not an SNS message with Signature and SigningCertURL' };
  if (m.TopicArn !== config.topic_arn) return { ok: false, code: 403, why: 'a topic herald.yaml does not name' };
  const trusted = new RegExp(config.cert_url ?? DEFAULT_CERT_URL);
  const certUrl = str(m.SigningCertURL)!;
  if (!trusted.test(certUrl)) return { ok: false, code: 403, why: 'SigningCertURL is not on a trusted host (webhooks.ses.cert_url)' };
  const fields = SIGNED[type];
  if (!fields) return { ok: false, code: 400, why: 'an SNS message type herald does not know' };
  const algorithm = str(m.SignatureVersion) === '2' ? 'RSA-SHA256' : str(m.SignatureVersion) === '1' ? 'RSA-SHA1' : undefined;
  if (!algorithm) return { ok: false, code: 401, why: 'an unknown SignatureVersion' };
  let cert: string;
  try {
    cert = await certificate(certUrl);
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'SES webhook: the signing certificate could not be fetched');
    return { ok: false, code: 401, why: 'the signing certificate could not be fetched' };
  }
  const signed = fields
    .filter((f) => f !== 'Subject' || m.Subject !== undefined)
    .map((f) => `${f}\n${str(m[f]) ?? ''}\n`)
    .join('');
  let good = false;
  try {
    good = createVerify(algorithm).update(signed, 'utf8').verify(cert, str(m.Signature)!, 'base64');
  } catch {
    good = false;
  }
  if (!good) return { ok: false, code: 401, why: 'bad signature' };

  if (type === 'SubscriptionConfirmation') {
    const url = str(m.SubscribeURL) ?? '';
    if (!trusted.test(url)) return { ok: false, code: 403, why: 'SubscribeURL is not on a trusted host (webhooks.ses.cert_url)' };
    const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return { ok: false, code: 400, why: `confirming the subscription failed: HTTP ${res.status}` };
    return { ok: true, feedback: [], note: 'subscription confirmed' };
  }
  if (type === 'UnsubscribeConfirmation') return { ok: true, feedback: [], note: 'unsubscribed' };
  const n = obj(parseJson(Buffer.from(str(m.Message) ?? '', 'utf8')));
  return { ok: true, feedback: notification(n, `ses ${str(m.MessageId) ?? ''}`.trim(), deps) };
};

/** The fields SNS signs, in order, per message type (Subject only when present). */
const SIGNED: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** Certificates by URL: a handful of them, each fetched once per process. */
const certificates = new Map<string, Promise<string>>();

async function certificate(url: string): Promise<string> {
  let c = certificates.get(url);
  if (!c) {
    if (certificates.size > 50) certificates.clear();
    c = fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) }).then(async (res) => {
      const text = await res.text();
      if (!res.ok || !text.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`HTTP ${res.status}, no PEM certificate`);
      return text;
    });
    certificates.set(url, c);
    // A failure is not kept: the next request tries again.
    c.catch(() => certificates.delete(url));
  }
  return c;
}

function notification(n: Record<string, unknown>, where: string, deps: ServerDeps): Feedback[] {
  const type = str(n.notificationType) ?? str(n.eventType);
  const mail = obj(n.mail);
  const ref = espRef(deps, { sender: mail.source, messageId: obj(mail.commonHeaders).messageId });
  if (type === 'Bounce') {
    const b = obj(n.bounce);
    const permanent = b.bounceType === 'Permanent';
    const at = typeof b.timestamp === 'string' ? new Date(b.timestamp) : undefined;
    const r = obj(Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients[0] : undefined);
    // SES calls a bounce Permanent when the address is no good: a bare 550 with it is a hard bounce.
    return [espBounce({ origin: 'ses', where, ref, status: r.status, diagnostic: r.diagnosticCode, permanent, fallback: b.bounceSubType === 'General' || b.bounceSubType === 'NoEmail' ? 'hard' : 'other', recipient: r.emailAddress, ...(at ? { at } : {}) })];
  }
  if (type === 'Complaint') {
    const c = obj(n.complaint);
    if (c.complaintFeedbackType === 'not-spam') return [{ kind: 'ignored', where, why: 'a not-spam report is no complaint' }];
    const r = obj(Array.isArray(c.complainedRecipients) ? c.complainedRecipients[0] : undefined);
    const at = typeof c.timestamp === 'string' ? new Date(c.timestamp) : undefined;
    return [complaint({ origin: 'ses', where, ref, feedbackType: c.complaintFeedbackType, recipient: r.emailAddress, ...(at ? { at } : {}) })];
  }
  return [{ kind: 'ignored', where, why: `a ${String(type).slice(0, 30)} notification changes nothing here` }];
}
