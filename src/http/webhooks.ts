import type { FastifyInstance } from 'fastify';
import { applyFeedback } from '../events/feedback.js';
import type { ServerDeps } from './deps.js';
import type { WebhookHandler } from './webhooks/esp.js';
import { mailgun } from './webhooks/mailgun.js';
import { postmark } from './webhooks/postmark.js';
import { sendgrid } from './webhooks/sendgrid.js';
import { ses } from './webhooks/ses.js';

/**
 * ESP webhooks (bounces and complaints) under `/webhooks/<esp>`: registered
 * by server.ts under the `/webhooks` prefix with the server's deps. Each
 * request's signature is checked first (webhooks/<esp>.ts); one that fails is
 * refused (401, or 403 for a topic or host herald.yaml does not trust) and
 * nothing is written. A good one is applied (src/events/feedback.ts): a
 * retried delivery records nothing twice. An ESP herald.yaml does not name is 404.
 */
const ESPS: Record<'ses' | 'sendgrid' | 'mailgun' | 'postmark', WebhookHandler> = { ses, sendgrid, mailgun, postmark };

/** ESPs batch; a megabyte is thousands of events, and bounds what a stranger can make herald read. */
const BODY_LIMIT = 1024 * 1024;

export async function webhookRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  // The signatures cover the raw bytes: keep them, whatever the content type (SNS sends text/plain).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
  for (const [name, handle] of Object.entries(ESPS) as [keyof typeof ESPS, WebhookHandler][]) {
    app.post(`/${name}`, async (request, reply) => {
      if (!deps.project.webhooks?.[name]) return reply.code(404).send({ error: 'not found' });
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const verdict = await handle({ headers: request.headers, body }, deps);
      if (!verdict.ok) {
        deps.log.warn({ esp: name, ip: request.ip }, `webhook refused: ${verdict.why}`);
        if (verdict.code === 401 && name === 'postmark') reply.header('www-authenticate', 'Basic realm="herald"');
        return reply.code(verdict.code).send({ error: verdict.code === 400 ? 'bad request' : verdict.code === 401 ? 'unauthorized' : 'forbidden' });
      }
      const summary = await applyFeedback(deps.db, deps.project, verdict.feedback, deps.clock ? { clock: deps.clock } : {});
      deps.log.info({ esp: name, matched: summary.matched, recorded: summary.recorded, suppressed: summary.suppressed.length, paused: summary.paused, unmatched: summary.unmatched.length, ...(verdict.note ? { note: verdict.note } : {}) }, 'webhook applied');
      return reply.code(200).send({ ok: true });
    });
  }
}
