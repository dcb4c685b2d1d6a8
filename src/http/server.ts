import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { EventWriter } from '../events/ingest.js';
import type { ServerDeps } from './deps.js';
import { LinkSets } from './destinations.js';
import { ERROR_PAGE } from './pages.js';
import { notFound, page, trackingRoutes } from './routes.js';
import { webhookRoutes } from './webhooks.js';
import { smsRoutes } from './sms.js';

/**
 * The tracking server, `herald serve`: fastify, for its routing, body limits
 * and parsers, hooks, and graceful close, which a hand-rolled node:http
 * server would each have to get right again; it is kept up to date and
 * among the fastest Node servers. It holds no state but a cache of link
 * sets (immutable) and the events not yet written (flushed every ~200 ms and
 * on close), so any number of servers can run behind a load balancer
 * against one database.
 *
 * Routes sit under tracking.base_url's path (https://shop.example/herald →
 * /herald/o/…), so a shop can proxy that one path to herald; the health
 * check is also at the root.
 */
export interface ServerOptions {
  /** How often held events are written (ms), and how many make a batch that is written at once. */
  flushMs?: number;
  batchSize?: number;
}

export interface TrackingServer {
  app: FastifyInstance;
  events: EventWriter;
  /** Stops taking requests, lets those under way finish, writes every held event. The database stays open. */
  close(): Promise<void>;
}

/** A request body is a one-click POST or the page's one field: a few hundred bytes. */
const BODY_LIMIT = 8 * 1024;
/** Tokens herald signs are a few hundred characters; anything past this is not one (404). */
const MAX_TOKEN = 1024;
/** How long the health check waits for the database. */
const HEALTH_TIMEOUT_MS = 2000;

export async function createTrackingServer(deps: ServerDeps, o: ServerOptions = {}): Promise<TrackingServer> {
  const events = new EventWriter(deps.db, { log: deps.log, ...(o.flushMs ? { intervalMs: o.flushMs } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) });
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // A line per request would be most of the server's work.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_TOKEN },
    // Behind a load balancer: requests arriving while closing get 503 and go to another server.
    return503OnClosing: true,
    // A token over MAX_TOKEN, or a path that does not decode, is no link herald made.
    frameworkErrors: (_err, _req, reply) => notFound(reply),
  });

  // Mailbox providers send the one-click POST as a URL-encoded or a multipart
  // form; both are read by the platform's own FormData parser (undici). A
  // body it cannot read (no boundary, no parts) is the sender's mistake: 400,
  // like bad JSON, never a 500 with a stack in the log.
  app.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'], { parseAs: 'buffer' }, async (req: { headers: IncomingMessage['headers'] }, body: Buffer) => {
    let form: FormData;
    try {
      form = await new Response(body, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
    } catch {
      throw Object.assign(new Error('the form body does not parse'), { statusCode: 400 });
    }
    const fields: Record<string, string> = {};
    for (const [k, v] of form.entries()) if (typeof v === 'string') fields[k] = v;
    return fields;
  });

  app.setNotFoundHandler((_req, reply) => notFound(reply));
  // Never the error's own message: it may quote the request.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) deps.log.error({ err }, 'tracking request failed');
    return page(reply, status, ERROR_PAGE);
  });

  const prefix = basePath(deps.project.tracking.base_url);
  const health = async (_req: unknown, reply: FastifyReply) => {
    const ok = await databaseAnswers(deps);
    return reply.code(ok ? 200 : 503).header('Cache-Control', 'no-store').type('text/plain').send(ok ? 'ok\n' : 'database unavailable\n');
  };
  app.get('/healthz', health);
  if (prefix) app.get(`${prefix}/healthz`, health);

  const sets = new LinkSets(deps.db);
  await app.register(async (scope) => trackingRoutes(scope, { ...deps, events, sets }), { prefix });
  await app.register(async (scope) => webhookRoutes(scope, deps), { prefix: `${prefix}/webhooks` });
  await app.register(async (scope) => smsRoutes(scope, deps), { prefix: `${prefix}/sms` });
  await app.ready();

  return {
    app,
    events,
    async close() {
      // Closing the server first: once it resolves no handler can record an event.
      await app.close();
      await events.close();
    },
  };
}

/** Listens, and returns the URL it listens on. */
export async function listen(server: TrackingServer, o: { port: number; host: string }): Promise<string> {
  await server.app.listen({ port: o.port, host: o.host });
  const a = server.app.server.address();
  if (!a || typeof a === 'string') return String(a);
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `http://${host}:${a.port}`;
}

/**
 * The tracking routes as a plain `(req, res)` handler, for a shop that
 * mounts herald in its own Node backend:
 *
 *   const tracking = await createTrackingHandler({ db, project, secrets, log });
 *   http.createServer((req, res) => req.url?.startsWith('/herald/') ? tracking.handler(req, res) : shop(req, res));
 *
 * The request's path is matched whole, so the shop passes it on unchanged
 * (base_url https://shop.example/herald serves /herald/…). close() writes
 * the events still held; call it when the shop's server stops.
 */
export async function createTrackingHandler(
  deps: ServerDeps,
  o: ServerOptions = {},
): Promise<{ handler: (req: IncomingMessage, res: ServerResponse) => void; close(): Promise<void> }> {
  const server = await createTrackingServer(deps, o);
  return { handler: (req, res) => server.app.routing(req, res), close: () => server.close() };
}

/** tracking.base_url's path, without a trailing slash: '' for a URL at the root. */
export function basePath(baseUrl: string): string {
  return new URL(baseUrl).pathname.replace(/\/+$/, '');
}

async function databaseAnswers(deps: ServerDeps): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      deps.db.query('SELECT 1').then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), HEALTH_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
