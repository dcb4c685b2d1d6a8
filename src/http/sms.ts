import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { addSuppression } from '../audience/suppressions.js';
import { e164, smsUrl } from '../channels/sms/channel.js';
import { applyReceipt, type Receipt } from '../channels/sms/receipts.js';
import { readTwilioReceipt, twilioSignature } from '../channels/sms/twilio.js';
import type { ServerDeps } from './deps.js';
import { envValue, sameSecret } from './webhooks/esp.js';

/**
 * SMS webhooks, registered by server.ts under `<base path>/sms`:
 *
 *   POST /sms/status           Twilio's status callbacks (delivery receipts), form-encoded
 *   POST /sms/inbound          Twilio's incoming messages: STOP and its synonyms (or Twilio's OptOutType STOP) suppress the sender for SMS
 *   POST /sms/status/webhook   the generic provider's receipts, JSON, with the shared secret in X-Herald-Secret
 *
 * Twilio's requests are checked against X-Twilio-Signature, computed over
 * the URL herald gave Twilio (tracking.base_url + the path, never the
 * request's Host header, which anyone can set) and the form, with the auth
 * token. A request that fails the check gets 403 and changes nothing. An
 * endpoint of a provider herald.yaml does not use is 404.
 */
const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT']);

/** Twilio reads the reply as TwiML: an empty one sends nothing back (Twilio's own opt-out reply, if enabled, still goes). */
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

type Form = Record<string, string>;

export async function smsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const config = deps.project.sms;
  const now = () => (deps.clock ?? (() => new Date()))();

  /** The Twilio form of a request whose signature checks out, else the refusal sent. */
  const twilioForm = (req: FastifyRequest, reply: FastifyReply, path: 'status' | 'inbound'): Form | undefined => {
    if (config?.provider !== 'twilio') {
      void reply.code(404).send({ error: 'not found' });
      return undefined;
    }
    const token = config.auth_token_env ? envValue(config.auth_token_env) : undefined;
    const form = formOf(req.body);
    const given = req.headers['x-twilio-signature'];
    const ok = token && form && typeof given === 'string' && sameSecret(given, twilioSignature(token, smsUrl(deps.project.tracking.base_url, path), form));
    if (!ok) {
      deps.log.warn({ path: `/sms/${path}`, ip: req.ip }, token ? 'SMS webhook refused: bad or missing X-Twilio-Signature' : `SMS webhook refused: $${config.auth_token_env ?? 'sms.auth_token_env'} is not set`);
      void reply.code(403).send({ error: 'forbidden' });
      return undefined;
    }
    return form;
  };

  app.post('/status', async (req, reply) => {
    const form = twilioForm(req, reply, 'status');
    if (!form) return reply;
    const r = readTwilioReceipt(form);
    if (r.outcome === 'ignored') return reply.code(200).send({ ok: true });
    const suppress = r.outcome === 'bounced' && r.permanent && r.to ? e164(r.to, null) : undefined;
    const receipt: Receipt = { providerId: r.sid, outcome: r.outcome, reason: r.reason, origin: 'twilio', at: now(), ...(suppress?.ok ? { suppress: suppress.number } : {}) };
    await settle(deps, receipt);
    return reply.code(200).send({ ok: true });
  });

  app.post('/inbound', async (req, reply) => {
    const form = twilioForm(req, reply, 'inbound');
    if (!form) return reply;
    const word = (form.Body ?? '').trim().toUpperCase();
    const from = e164(form.From ?? '', null);
    // With Advanced Opt-Out, Twilio says so itself, for the keywords configured there too (STOPP, ARRET, …).
    if ((STOP_WORDS.has(word) || form.OptOutType === 'STOP') && from.ok) {
      const { added } = await addSuppression(deps.db, { email: from.number, site: null, reason: 'unsubscribed', source: 'sms', note: `replied ${word.slice(0, 40)}`, actor: 'recipient', channel: 'sms' });
      if (added) deps.log.info({ channel: 'sms' }, 'a number replied STOP: suppressed for SMS');
    }
    return reply.code(200).header('Cache-Control', 'no-store').type('text/xml').send(EMPTY_TWIML);
  });

  app.post('/status/webhook', async (req, reply) => {
    const w = config?.provider === 'webhook' ? config.webhook : undefined;
    if (!w) return reply.code(404).send({ error: 'not found' });
    const secret = w.status_secret_env ? envValue(w.status_secret_env) : undefined;
    const given = req.headers['x-herald-secret'];
    if (!secret || typeof given !== 'string' || !sameSecret(given, secret)) {
      deps.log.warn({ path: '/sms/status/webhook', ip: req.ip }, secret ? 'SMS receipt refused: bad or missing X-Herald-Secret' : 'SMS receipt refused: sms.webhook.status_secret_env is not set');
      return reply.code(403).send({ error: 'forbidden' });
    }
    const r = webhookReceipt(req.body);
    if (!r) return reply.code(400).send({ error: 'bad request' });
    if (r.outcome !== 'ignored') await settle(deps, { providerId: r.id, outcome: r.outcome, reason: r.reason, origin: 'webhook', at: now() });
    return reply.code(200).send({ ok: true });
  });
}

async function settle(deps: ServerDeps, r: Receipt): Promise<void> {
  const { matched, changed } = await applyReceipt(deps.db, r);
  if (!matched) deps.log.warn({ origin: r.origin, outcome: r.outcome }, 'SMS receipt for no sent message herald knows (not yet recorded, or another sender\'s)');
  else if (changed) deps.log.info({ origin: r.origin, outcome: r.outcome }, 'SMS receipt applied');
}

/**
 * The generic provider's receipt: `{"id": "…", "status": "delivered" |
 * "undelivered" | "failed", "reason"?: "…"}`. Other statuses change nothing.
 */
function webhookReceipt(body: unknown): { outcome: 'delivered' | 'failed'; id: string; reason: string } | { outcome: 'ignored' } | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const id = typeof b.id === 'string' || typeof b.id === 'number' ? String(b.id) : '';
  if (!id || typeof b.status !== 'string') return undefined;
  const reason = `webhook ${b.status.slice(0, 20)}${typeof b.reason === 'string' && b.reason ? ` ${b.reason.slice(0, 300)}` : ''}`;
  if (b.status === 'delivered') return { outcome: 'delivered', id, reason };
  if (b.status === 'undelivered' || b.status === 'failed') return { outcome: 'failed', id, reason };
  return { outcome: 'ignored' };
}

function formOf(body: unknown): Form | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const form: Form = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') form[k] = v;
  return form;
}
