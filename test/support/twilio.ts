import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * SMS provider peers on 127.0.0.1 for tests: a Twilio-shaped Messages API
 * and a generic JSON webhook receiver. Each records what it was sent and
 * answers what the test asks for next (by default: accepted, with an id).
 */
export interface PeerReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface TwilioRequest {
  path: string;
  /** The basic-auth credentials, decoded: `AccountSid:AuthToken`. */
  auth: string | undefined;
  form: Record<string, string>;
}

export interface TwilioPeer {
  /** The API's base URL (sms.api_url). */
  url: string;
  requests: TwilioRequest[];
  /** Answers the next request with this, once. */
  next(reply: PeerReply): void;
  /** Answers every request this says something for (by its form, e.g. its To), before the default. */
  answer(by: (form: Record<string, string>) => PeerReply | undefined): void;
  /** Answers a Twilio error reply for the next request: `{code, message, more_info, status}`. */
  nextError(status: number, code: number, message: string, headers?: Record<string, string>): void;
  /** The SIDs it gave, in order. */
  sids: string[];
  close(): Promise<void>;
}

/** A Twilio error reply: `{code, message, more_info, status}`. */
export function twilioError(status: number, code: number, message: string, headers?: Record<string, string>): PeerReply {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, ...(headers ? { headers } : {}) };
}

export async function twilioPeer(): Promise<TwilioPeer> {
  const requests: TwilioRequest[] = [];
  const queued: PeerReply[] = [];
  const sids: string[] = [];
  let answer: ((form: Record<string, string>) => PeerReply | undefined) | undefined;
  const server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const form = Object.fromEntries(new URLSearchParams(body));
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      requests.push({ path: req.url ?? '', auth: basic ? Buffer.from(basic, 'base64').toString('utf8') : undefined, form });
      let reply = queued.shift() ?? answer?.(form);
      if (!reply) {
        const sid = `SM${String(sids.length + 1).padStart(32, '0')}`;
        sids.push(sid);
        reply = { status: 201, body: { sid, status: 'queued', to: form.To, from: form.From ?? null, body: form.Body } };
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    })();
  });
  const url = await listen(server);
  return {
    url,
    requests,
    sids,
    next: (r) => void queued.push(r),
    answer: (by) => void (answer = by),
    nextError: (status, code, message, headers) => void queued.push(twilioError(status, code, message, headers)),
    close: () => close(server),
  };
}

export interface WebhookRequest {
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface WebhookPeer {
  url: string;
  requests: WebhookRequest[];
  next(reply: PeerReply): void;
  close(): Promise<void>;
}

/** A generic SMS webhook: records JSON bodies and headers, answers `{"data": {"id": "msg-<n>"}}` unless told otherwise. */
export async function webhookPeer(): Promise<WebhookPeer> {
  const requests: WebhookRequest[] = [];
  const queued: PeerReply[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const text = await read(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      requests.push({ headers: req.headers, body });
      const reply = queued.shift() ?? { status: 202, body: { data: { id: `msg-${requests.length}` } } };
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    })();
  });
  const url = await listen(server);
  return { url: `${url}/send`, requests, next: (r) => void queued.push(r), close: () => close(server) };
}

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}
