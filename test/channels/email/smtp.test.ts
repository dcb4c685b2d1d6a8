import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { describe, expect, it, vi } from 'vitest';
import { classifyFailure } from '../../../src/channels/email/classify.js';
import { dataBytes, parseSmtpUrl, SmtpError, SmtpPool } from '../../../src/channels/email/smtp.js';
import { UserError } from '../../../src/errors.js';
import { useCleanups } from '../../support/cleanup.js';

/**
 * herald's SMTP client against smtp-server, every message parsed back by
 * mailparser: pipelining and its absence, connection reuse and replacement,
 * refused envelopes, STARTTLS, AUTH, dot-stuffing, size limits and servers
 * that hang up.
 */
const cleanup = useCleanups();
const tlsDir = join(import.meta.dirname, '..', '..', 'support', 'tls');
const TLS = { key: readFileSync(join(tlsDir, 'key.pem')), cert: readFileSync(join(tlsDir, 'cert.pem')) };

interface Received {
  mail: ParsedMail;
  secure: boolean;
  user: string | undefined;
  connection: string;
}

type PeerOptions = Partial<SMTPServerOptions> & {
  /** Where to listen (127.0.0.1 unless given). */
  address?: string;
  /** An error refuses the n-th connection at its greeting. */
  greeting?: (n: number) => Error | void;
  onMail?: (from: string, s: SMTPServerSession, server: SMTPServer) => Error | void;
};

async function startPeer(opts: PeerOptions = {}) {
  const received: Received[] = [];
  const connections = new Set<string>();
  const { onMail, greeting, address = '127.0.0.1', ...options } = opts;
  let dialled = 0;
  const server: SMTPServer = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onData(stream, s, cb) {
      simpleParser(stream)
        .then((mail) => {
          received.push({ mail, secure: s.secure, user: s.user as string | undefined, connection: s.id });
          cb();
        })
        .catch(cb);
    },
    ...options,
    onConnect(s, cb) {
      connections.add(s.id);
      cb(greeting?.(++dialled) ?? undefined);
    },
    onMailFrom(addr, s, cb) {
      cb(onMail?.(addr.address, s, server) ?? undefined);
    },
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  cleanup(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.server.address() as { port: number }).port;
  return { port, url: `smtp://127.0.0.1:${port}`, received, connections, server };
}

/** Destroys the socket of the session `s` without a word, as a crashing server or a middlebox would. */
function hangUp(s: SMTPServerSession, server: SMTPServer): void {
  const connection = [...(server as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }).connections].find((c) => c.id === s.id);
  connection!._socket.destroy();
}

/**
 * Connections herald opens to `host` reach 127.0.0.1 instead, as a DNS entry
 * or a NAT rule would: for host forms this machine cannot reach (a class E
 * address, a name nothing resolves). herald's client is otherwise untouched.
 */
function routeToLoopback(host: string): void {
  const connect = net.connect;
  const spy = vi.spyOn(net, 'connect').mockImplementation(((port: number, to: string) => connect(port, to === host ? '127.0.0.1' : to)) as typeof net.connect);
  cleanup(() => spy.mockRestore());
}

function pool(url: string, o: { pool?: number; maxMessages?: number; socketTimeoutMs?: number } = {}) {
  const p = new SmtpPool(parseSmtpUrl(url), { pool: o.pool ?? 2, socketTimeoutMs: o.socketTimeoutMs ?? 5000, ...(o.maxMessages ? { maxMessages: o.maxMessages } : {}) });
  cleanup(() => p.close());
  return p;
}

function message(i: number, body = `Hello ${i}\r\n`): Buffer {
  return Buffer.from(`From: news@shop.example\r\nTo: c${i}@example.com\r\nSubject: m${i}\r\nMessage-ID: <m${i}@shop.example>\r\n\r\n${body}`, 'latin1');
}
const envelope = (i: number) => ({ from: 'news@shop.example', to: `c${i}@example.com` });

async function failure(p: Promise<unknown>): Promise<SmtpError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SmtpError);
  return e as SmtpError;
}

describe('SmtpPool', () => {
  it('sends many messages pipelined over the pool, each once, and keeps to the pool size', async () => {
    const peer = await startPeer();
    const p = pool(peer.url, { pool: 3 });
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => p.send(envelope(i), message(i))));
    expect(replies.every((r) => r.startsWith('250'))).toBe(true);
    expect(peer.received.map((r) => r.mail.messageId).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `<m${i}@shop.example>`).sort());
    for (const r of peer.received) expect(r.mail.text).toBe(`Hello ${/m(\d+)@/.exec(r.mail.messageId!)![1]}\n`);
    expect(peer.connections.size).toBeLessThanOrEqual(3);
  });

  it('without PIPELINING it sends command by command', async () => {
    const peer = await startPeer({ hidePIPELINING: true });
    const p = pool(peer.url);
    await Promise.all(Array.from({ length: 10 }, (_, i) => p.send(envelope(i), message(i))));
    expect(peer.received).toHaveLength(10);
  });

  it('replaces a connection after its limit of messages', async () => {
    const peer = await startPeer();
    const p = pool(peer.url, { pool: 1, maxMessages: 3 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => p.send(envelope(i), message(i))));
    expect(peer.received).toHaveLength(10);
    expect(peer.connections.size).toBe(4);
    const perConnection = new Map<string, number>();
    for (const r of peer.received) perConnection.set(r.connection, (perConnection.get(r.connection) ?? 0) + 1);
    expect(Math.max(...perConnection.values())).toBe(3);
  });

  it('a refused recipient fails that message only; the connection goes on with the next (RSET)', async () => {
    const peer = await startPeer({
      onRcptTo(addr, _s, cb) {
        cb(addr.address === 'c1@example.com' ? Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }) : undefined);
      },
    });
    const p = pool(peer.url, { pool: 1 });
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => p.send(envelope(i), message(i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason as SmtpError;
    expect(err).toMatchObject({ code: 'EENVELOPE', responseCode: 550, afterData: false });
    expect(classifyFailure(err).status).toBe('bounced');
    expect(peer.received.map((r) => r.mail.messageId)).toEqual(['<m0@shop.example>', '<m2@shop.example>', '<m3@shop.example>']);
    expect(peer.connections.size).toBe(1);
  });

  it('a refusal after the data carries the reply and afterData', async () => {
    const peer = await startPeer({
      onData(stream, _s, cb) {
        stream.resume();
        stream.on('end', () => cb(Object.assign(new Error('5.7.26 unauthenticated mail is prohibited'), { responseCode: 550 })));
      },
    });
    const err = await failure(pool(peer.url).send(envelope(1), message(1)));
    expect(err).toMatchObject({ code: 'EMESSAGE', responseCode: 550, afterData: true });
    expect(classifyFailure(err)).toMatchObject({ status: 'retry', policy: true });
  });

  it('doubles leading dots and repairs bare line breaks, so content never ends the data early', async () => {
    const peer = await startPeer();
    const body = '.starts with a dot\r\nbare LF\n.\nbare CR\r.\r\n..two dots\r\nlast line without CRLF';
    await pool(peer.url).send(envelope(1), message(1, body));
    const [got] = peer.received;
    expect(got!.mail.messageId).toBe('<m1@shop.example>');
    expect(got!.mail.text).toBe('.starts with a dot\nbare LF\n.\nbare CR\n.\n..two dots\nlast line without CRLF\n');
  });

  it('leaves a composed message as it is', () => {
    const raw = message(1);
    const [data, dot] = dataBytes(raw);
    expect(data).toBe(raw);
    expect(dot!.toString()).toBe('.\r\n');
  });

  it('upgrades with STARTTLS and authenticates with PLAIN or LOGIN', async () => {
    for (const method of ['PLAIN', 'LOGIN']) {
      const peer = await startPeer({
        disabledCommands: [],
        authMethods: [method],
        authOptional: false,
        ...TLS,
        onAuth(auth, _s, cb) {
          if (auth.username === 'shop' && auth.password === 'pä ss:@/') cb(null, { user: auth.username });
          else cb(Object.assign(new Error('5.7.8 bad credentials'), { responseCode: 535 }));
        },
      });
      const url = `smtp://shop:${encodeURIComponent('pä ss:@/')}@127.0.0.1:${peer.port}`;
      await pool(url).send(envelope(1), message(1));
      expect(peer.received).toMatchObject([{ secure: true, user: 'shop' }]);

      const wrong = await failure(pool(`smtp://shop:nope@127.0.0.1:${peer.port}`).send(envelope(2), message(2)));
      expect(wrong).toMatchObject({ code: 'EAUTH', responseCode: 535 });
      expect(classifyFailure(wrong)).toMatchObject({ status: 'retry', policy: true });
    }
  });

  it('speaks TLS from the first byte with smtps://', async () => {
    const peer = await startPeer({ secure: true, ...TLS });
    await pool(`smtps://127.0.0.1:${peer.port}`).send(envelope(1), message(1));
    expect(peer.received).toMatchObject([{ secure: true }]);
  });

  it('starttls=required refuses a server that does not offer STARTTLS, before any message', async () => {
    const peer = await startPeer();
    const err = await failure(pool(`${peer.url}?starttls=required`).send(envelope(1), message(1)));
    expect(err.code).toBe('ETLS');
    expect(peer.received).toHaveLength(0);
  });

  it('refuses, unsent and for good, a message larger than the server takes', async () => {
    const peer = await startPeer({ size: 1000 });
    const p = pool(peer.url);
    const err = await failure(p.send(envelope(1), message(1, 'x'.repeat(2000))));
    expect(err).toMatchObject({ code: 'ESIZE', permanent: true });
    expect(classifyFailure(err).status).toBe('failed');
    await p.send(envelope(2), message(2));
    expect(peer.received.map((r) => r.mail.messageId)).toEqual(['<m2@shop.example>']);
  });

  it('a connection the server closed while idle is replaced, and the next message goes out', async () => {
    const peer = await startPeer({ socketTimeout: 300 });
    const p = pool(peer.url, { pool: 1 });
    await p.send(envelope(1), message(1));
    await new Promise((r) => setTimeout(r, 700));
    await p.send(envelope(2), message(2));
    expect(peer.received).toHaveLength(2);
    expect(peer.connections.size).toBe(2);
  });

  it('a message whose connection broke before its data moves to a new connection once, then fails as retryable', async () => {
    let drops = 1;
    const cut = (s: SMTPServerSession, server: SMTPServer) => {
      const connection = [...(server as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }).connections].find((c) => c.id === s.id);
      connection!._socket.destroy();
      return new Error('cut');
    };
    const peer = await startPeer({ onMail: (_from, s, server) => (drops-- > 0 ? cut(s, server) : undefined) });
    const p = pool(peer.url, { pool: 1 });
    await p.send(envelope(1), message(1));
    expect(peer.received.map((r) => r.mail.messageId)).toEqual(['<m1@shop.example>']);

    drops = 2;
    const err = await failure(p.send(envelope(2), message(2)));
    expect(err.afterData).toBe(false);
    expect(classifyFailure(err).status).toBe('retry');
    expect(peer.received).toHaveLength(1);
  });

  it('a server that never answers the final dot: a timeout after the data, unknown', async () => {
    const peer = await startPeer({
      onData(stream) {
        stream.resume();
      },
    });
    const err = await failure(pool(peer.url, { socketTimeoutMs: 300 }).send(envelope(1), message(1)));
    expect(err).toMatchObject({ code: 'ETIMEDOUT', afterData: true });
    expect(classifyFailure(err).status).toBe('unknown');
  });

  // Item 8 of issue 12: "127.0.0.1 closed the connection" was read as a reply with code 127, and retried: every recipient got the message twice.
  for (const [host, url, reach] of [
    ['127.0.0.1', (port: number) => `smtp://127.0.0.1:${port}`, 'listen'],
    ['::1', (port: number) => `smtp://[::1]:${port}`, 'listen'],
    ['localhost', (port: number) => `smtp://localhost:${port}`, 'listen'],
    ['250.1.2.3', (port: number) => `smtp://250.1.2.3:${port}`, 'route'],
    ['550.example', (port: number) => `smtp://550.example:${port}`, 'route'],
  ] as const) {
    it(`a server at ${host} that hangs up after the final dot: unknown, never a reply code read from the host`, async () => {
      if (reach === 'route') routeToLoopback(host);
      const peer = await startPeer({
        ...(host === '::1' ? { address: '::1' } : {}),
        onData(stream, s) {
          stream.resume();
          stream.on('end', () => hangUp(s, peer.server));
        },
      });
      const err = await failure(pool(url(peer.port)).send(envelope(1), message(1)));
      expect(err).toMatchObject({ code: 'ECONNECTION', afterData: true, response: undefined, responseCode: undefined });
      expect(err.message).toContain(host);
      expect(classifyFailure(err)).toEqual({ status: 'unknown', response: `no reply after the message was sent: ${err.message}` });
    });
  }

  // Item 12 of issue 12: a 421 was recorded as "closed the connection" instead of the server's reply.
  it('a 421 to MAIL, then the server hangs up: the message fails with the reply, and is retried', async () => {
    const peer = await startPeer({ onMail: () => Object.assign(new Error('too many messages from you, come back later'), { responseCode: 421 }) });
    const err = await failure(pool(peer.url, { pool: 1 }).send(envelope(1), message(1)));
    expect(err).toMatchObject({ responseCode: 421, afterData: false });
    expect(err.response).toBe('421 too many messages from you, come back later');
    expect(classifyFailure(err)).toEqual({ status: 'retry', response: err.response, policy: false });
    expect(peer.received).toHaveLength(0);
    // Moved once to a fresh connection, which said the same.
    expect(peer.connections.size).toBe(2);
  });

  it('a 421 to the final dot: the message fails with the reply, and is retried', async () => {
    const peer = await startPeer({
      onData(stream, _s, cb) {
        stream.resume();
        stream.on('end', () => cb(Object.assign(new Error('shutting down for maintenance'), { responseCode: 421 })));
      },
    });
    const err = await failure(pool(peer.url).send(envelope(1), message(1)));
    expect(err).toMatchObject({ responseCode: 421, afterData: true });
    expect(err.response).toMatch(/^421 .*shutting down for maintenance$/);
    expect(classifyFailure(err)).toEqual({ status: 'retry', response: err.response, policy: false });
  });

  it('a server that refuses every connection fails the waiting messages, without redialling it', async () => {
    const peer = await startPeer({ greeting: () => Object.assign(new Error('4.3.2 too busy, try later'), { responseCode: 421 }) });
    const p = pool(peer.url, { pool: 2 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => p.send(envelope(i), message(i))));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'EGREETING', responseCode: 421 });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.connections.size).toBe(2);
  });

  it('when the server takes fewer connections than the pool, the messages share those it took', async () => {
    const peer = await startPeer({ greeting: (n) => (n > 1 ? Object.assign(new Error('4.7.0 too many connections from your host'), { responseCode: 421 }) : undefined) });
    const p = pool(peer.url, { pool: 4 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => p.send(envelope(i), message(i))));
    expect(peer.received).toHaveLength(20);
    expect(new Set(peer.received.map((r) => r.connection)).size).toBe(1);
  });

  it('a closed pool refuses new messages', async () => {
    const peer = await startPeer();
    const p = pool(peer.url);
    p.close();
    expect((await failure(p.send(envelope(1), message(1)))).code).toBe('ECLOSED');
  });

  it('reads HERALD_SMTP_URL strictly', () => {
    expect(parseSmtpUrl('smtp://u%40x:p%3Aw@mail.example.com:2525?name=mta.shop.example')).toEqual({
      host: 'mail.example.com',
      port: 2525,
      secure: false,
      requireTls: false,
      user: 'u@x',
      pass: 'p:w',
      name: 'mta.shop.example',
      rejectUnauthorized: true,
    });
    expect(parseSmtpUrl('smtps://127.0.0.1')).toMatchObject({ port: 465, secure: true, rejectUnauthorized: false });
    expect(() => parseSmtpUrl('http://mail.example.com')).toThrow(/smtp: and smtps:/);
    expect(() => parseSmtpUrl('smtp://mail.example.com?pool=5')).toThrow(/unknown option "pool"/);
    expect(() => parseSmtpUrl('smtp://mail.example.com?starttls=maybe')).toThrow(/starttls=maybe/);
  });

  it('says which part of HERALD_SMTP_URL is badly percent-encoded, and never prints the password', () => {
    const refused = (url: string) => {
      try {
        parseSmtpUrl(url);
      } catch (e) {
        return e as UserError;
      }
      throw new Error(`${url} was taken`);
    };
    const password = refused('smtp://user:pa%ss@127.0.0.1:9');
    expect(password).toBeInstanceOf(UserError);
    expect(password.message).toBe('HERALD_SMTP_URL has a password that is not percent-encoded');
    expect(password.hint).toMatch(/write % as %25/);
    const user = refused('smtp://us%zzer:secret@127.0.0.1:9');
    expect(user.message).toBe('HERALD_SMTP_URL has a user name that is not percent-encoded');
    for (const e of [password, user]) expect(`${e.message} ${e.hint}`).not.toMatch(/pa%ss|secret/);
  });

  it('refuses a password without a user name rather than sending without authenticating', () => {
    let err: unknown;
    try {
      parseSmtpUrl('smtp://:s3cret@mail.example.com:587');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('HERALD_SMTP_URL has a password but no user name');
    expect(`${(err as UserError).message} ${(err as UserError).hint}`).not.toMatch(/s3cret/);
  });
});
