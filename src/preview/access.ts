import type { IncomingMessage } from 'node:http';

/**
 * Which requests `herald preview --serve` answers. The server listens on
 * 127.0.0.1 only, but a page in the author's browser can still reach it: an
 * <img> on any site sends any path, and DNS rebinding (a hostile name that
 * first resolves to the attacker, then to 127.0.0.1) lets that site read the
 * answers, which hold customers' names and addresses. So the server answers
 * only requests addressed to a loopback name on its own port, lets only its
 * own page read data, and answers anything malformed with 400, never a crash.
 */
export type Route =
  | { kind: 'page' }
  | { kind: 'state' }
  | { kind: 'events' }
  | { kind: 'render'; id: string; ext: 'html' | 'txt' }
  | { kind: 'unknown' };

export interface Refusal {
  status: 400 | 403 | 405;
  message: string;
  headers?: Record<string, string>;
}

const METHODS = ['GET', 'HEAD'];

export function admit(req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>, port: number): { route: Route } | { refusal: Refusal } {
  const where = `http://127.0.0.1:${port}/`;
  const host = req.headers.host;
  if (!host) return { refusal: { status: 400, message: 'a request needs a Host header' } };
  // DNS rebinding: the browser believes it talks to the attacker's name, and says so in Host.
  if (!isLoopback(host, port)) return { refusal: { status: 403, message: `herald preview answers only at ${where} (or localhost)` } };
  // Origin-form only: an absolute URL or `*` as the target is not for this server.
  const target = req.url ?? '';
  if (!target.startsWith('/')) return { refusal: { status: 400, message: 'the request target is not a path' } };
  if (!METHODS.includes(req.method ?? '')) return { refusal: { status: 405, message: 'herald preview answers GET and HEAD only', headers: { allow: METHODS.join(', ') } } };
  let path: string;
  try {
    // Prefixed, not resolved against a base: `//other.example/…` stays a path.
    path = new URL(`http://localhost${target}`).pathname;
    decodeURIComponent(path);
  } catch {
    return { refusal: { status: 400, message: 'the path is not valid percent-encoded UTF-8' } };
  }
  const route = routeOf(path);
  if (route.kind !== 'page' && route.kind !== 'unknown') {
    const refused = crossOrigin(req.headers, port);
    if (refused) return { refusal: { status: 403, message: `${refused}: only herald's own page at ${where} reads previews` } };
  }
  return { route };
}

function routeOf(path: string): Route {
  if (path === '/') return { kind: 'page' };
  if (path === '/api/state') return { kind: 'state' };
  if (path === '/events') return { kind: 'events' };
  const m = /^\/render\/(.+)\.(html|txt)$/.exec(path);
  return m ? { kind: 'render', id: decodeURIComponent(m[1]!), ext: m[2] as 'html' | 'txt' } : { kind: 'unknown' };
}

/** A Host (or an Origin's host) naming this machine's loopback on our port; without a port, only for port 80. */
function isLoopback(host: string, port: number): boolean {
  const m = /^(localhost|127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?$/i.exec(host);
  return !!m && (m[2] === undefined ? port === 80 : Number(m[2]) === port);
}

/**
 * Why a request comes from another site's page, or undefined: browsers say
 * where a request comes from in Sec-Fetch-Site (`none` is the address bar),
 * and in Origin for scripted requests. Tools like curl send neither.
 */
function crossOrigin(headers: IncomingMessage['headers'], port: number): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return "a request from another site's page";
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  const m = /^http:\/\/([^/]+)$/i.exec(origin);
  return m && isLoopback(m[1]!, port) ? undefined : 'a request from another origin';
}
