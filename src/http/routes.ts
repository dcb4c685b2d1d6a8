import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classifyCached as classify, type Classified } from '../events/classify.js';
import type { EventWriter } from '../events/ingest.js';
import { unsubscribe, unsubscribeTarget, type UnsubscribeVia } from '../events/unsubscribe.js';
import { readShortToken, SHORT_PATH, shortSetKey } from '../links/short.js';
import { readTrackingToken, TRACKING_PATHS, type TrackingLink } from '../links/tracking.js';
import type { ServerDeps } from './deps.js';
import { destination, PushOpens, type LinkSets } from './destinations.js';
import { BAD_REQUEST_PAGE, confirmPage, NOT_FOUND_PAGE, PAGE_CSP, PIXEL, unsubscribedPage } from './pages.js';

/**
 * The tracking routes, registered under tracking.base_url's path:
 *
 *   GET|HEAD  /o/<token>                 the open pixel
 *   GET|HEAD  /c/<token>/<index>         a click: 302 to the link as rendered (/c/<token> for links from before)
 *   GET|HEAD  /s/<token>                 a short link (SMS, a push's tap): the same; a tap is also the push's open
 *   GET|POST  /u/<token>                 unsubscribe: GET shows a page, POST unsubscribes
 *   GET|POST  /unsubscribe/<token>       the same, for links from before messages carried ids
 *
 * A token is checked before anything else; one that herald did not sign, or
 * signed for another purpose, gets the 404 page (the pixel: the image, and
 * nothing recorded). Nothing from a request reaches a header or a redirect.
 */
export interface RouteDeps extends ServerDeps {
  events: EventWriter;
  sets: LinkSets;
}

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

export async function trackingRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const now = deps.clock ?? (() => new Date());

  app.get(`/${TRACKING_PATHS.open}/:token`, async (req: TokenRequest, reply) => {
    const t = readTrackingToken(req.params.token, deps.secrets);
    if (t.ok && t.link.kind === 'open') {
      const c = classify({ kind: 'open', method: req.method, userAgent: req.headers['user-agent'], purpose: purposeOf(req) });
      deps.events.record({ message: t.link.message, kind: 'open', class: c.class, link: null, origin: 'pixel', detail: detailOf(c, req), at: now() });
    }
    // A bad token still gets the image: a broken image in a message helps nobody.
    return reply.header('Cache-Control', 'no-store, private').type('image/gif').send(PIXEL);
  });

  // `/c/<token>/<index>`: a message's clicks token and the link's index; `/c/<token>`: a click token from before, the index signed in it.
  const click = async (req: FastifyRequest<{ Params: { token: string; index?: string } }>, reply: FastifyReply) => {
    // A query string (a forwarder's `?fbclid=`, an attacker's `?url=`) is never read: the destination is the stored one.
    const t = readTrackingToken(req.params.token, deps.secrets, req.params.index);
    if (!t.ok || t.link.kind !== 'click') return notFound(reply);
    const d = await destination({ db: deps.db, project: deps.project, secret: deps.secrets[0]!, sets: deps.sets, now: now() }, t.link);
    if (!d.ok) return notFound(reply);
    const c = classify({ kind: 'click', method: req.method, userAgent: req.headers['user-agent'], purpose: purposeOf(req) });
    deps.events.record({ message: t.link.message, kind: 'click', class: c.class, link: t.link.index, origin: 'click', detail: { url: d.stored, ...detailOf(c, req) }, at: now() });
    // HEAD is answered the same (a link checker learns where the link goes), and recorded as a scanner's.
    return redirect(reply, d.url);
  };
  app.get(`/${TRACKING_PATHS.click}/:token`, click);
  app.get(`/${TRACKING_PATHS.click}/:token/:index`, click);

  const pushOpens = new PushOpens(deps.db);
  app.get(`/${SHORT_PATH}/:token`, async (req: TokenRequest, reply) => {
    // As /c/: the destination is the message's stored link (its set is the message's own), never the request's.
    const t = readShortToken(req.params.token, deps.secrets);
    if (!t.ok) return notFound(reply);
    const { message, index, push } = t.link;
    const d = await destination({ db: deps.db, project: deps.project, secret: deps.secrets[0]!, sets: deps.sets, now: now() }, { message, set: shortSetKey(message), index });
    if (!d.ok) return notFound(reply);
    const c = classify({ kind: 'click', method: req.method, userAgent: req.headers['user-agent'], purpose: purposeOf(req) });
    const detail = detailOf(c, req);
    deps.events.record({ message, kind: 'click', class: c.class, link: index, origin: 'click', detail: { url: d.stored, ...detail }, at: now() });
    if (push && (await pushOpens.first(message, c.class))) deps.events.record({ message, kind: 'open', class: c.class, link: null, origin: 'click', detail, at: now() });
    return redirect(reply, d.url);
  });

  for (const path of [TRACKING_PATHS.unsubscribe, TRACKING_PATHS.legacyUnsubscribe]) {
    app.get(`/${path}/:token`, async (req: TokenRequest, reply) => {
      const target = await unsubscribeTargetOf(deps, req.params.token);
      if (!target) return notFound(reply);
      // Showing the page changes nothing: link scanners fetch every GET.
      return page(reply, 200, confirmPage(siteName(deps, target.site)));
    });
    app.post(`/${path}/:token`, async (req: TokenRequest, reply) => {
      const target = await unsubscribeTargetOf(deps, req.params.token);
      if (!target) return notFound(reply);
      const via = viaOf(req.body);
      if (!via) return page(reply, 400, BAD_REQUEST_PAGE);
      const { added } = await unsubscribe(deps.db, target, via, now());
      if (added) deps.log.info({ site: target.site, via, message: target.message }, 'unsubscribed');
      return page(reply, 200, unsubscribedPage(siteName(deps, target.site)));
    });
  }
}

async function unsubscribeTargetOf(deps: RouteDeps, token: string) {
  const t = readTrackingToken(token, deps.secrets);
  if (!t.ok || (t.link.kind !== 'unsubscribe' && t.link.kind !== 'unsubscribe-recipient')) return undefined;
  return unsubscribeTarget(deps.db, deps.project, t.link as Extract<TrackingLink, { kind: 'unsubscribe' | 'unsubscribe-recipient' }>);
}

/**
 * What a POST asks for: RFC 8058's `List-Unsubscribe=One-Click`, as mailbox
 * providers send it, or the confirmation page's button.
 */
function viaOf(body: unknown): UnsubscribeVia | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const form = body as Record<string, unknown>;
  if (form['List-Unsubscribe'] === 'One-Click') return 'one-click';
  if (form.confirm === 'unsubscribe') return 'page';
  return undefined;
}

function siteName(deps: ServerDeps, site: string): string | undefined {
  return deps.project.sites.find((s) => s.id === site)?.name;
}

/** The headers browsers send with a speculative fetch (link prefetch, previews). */
function purposeOf(req: FastifyRequest): string | undefined {
  const h = req.headers;
  const v = h['sec-purpose'] ?? h.purpose ?? h['x-purpose'] ?? h['x-moz'];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Why a request was not a person's, and its user agent (shortened) for a scanner's. */
function detailOf(c: Classified, req: FastifyRequest): Record<string, unknown> | null {
  if (c.class === 'human') return null;
  const ua = req.headers['user-agent'];
  return { by: c.by, ...(ua ? { ua: ua.slice(0, 200) } : {}) };
}

function redirect(reply: FastifyReply, url: string): FastifyReply {
  return reply.code(302).header('Location', headerSafe(url)).header('Cache-Control', 'no-store').header('Referrer-Policy', 'no-referrer').send();
}

/** A stored link with characters a header cannot carry, percent-encoded; others exactly as rendered. */
function headerSafe(url: string): string {
  return /^[\x21-\x7e]*$/.test(url) ? url : new URL(url).href;
}

export function notFound(reply: FastifyReply): FastifyReply {
  return page(reply, 404, NOT_FOUND_PAGE);
}

export function page(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .header('Cache-Control', 'no-store')
    .header('X-Robots-Tag', 'noindex')
    .header('Content-Security-Policy', PAGE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .type('text/html; charset=utf-8')
    .send(html);
}
