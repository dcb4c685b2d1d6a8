import net from 'node:net';
import { hostname } from 'node:os';
import tls from 'node:tls';
import { UserError } from '../../errors.js';
import type { SmtpFailure } from './classify.js';

/**
 * herald's SMTP client: a pool of connections, each carrying one message
 * after another with RFC 2920 pipelining, so a message costs one round trip:
 * the message, its final dot and the next message's MAIL, RCPT and DATA go
 * out in one write.
 *
 * Why not nodemailer's pool: it passes every message through a transform that
 * looks at each byte in JavaScript (dot-stuffing and line-ending repair),
 * ~0.3 ms of CPU for a 40 KB newsletter, which caps a core at ~2,000 messages
 * a second before anything else is done. herald composes its messages itself
 * (compose.ts: CRLF lines, base64 bodies), so they need no repair; the two
 * byte searches below (native) prove it, and only a message that needs
 * stuffing is copied. DKIM signing stays nodemailer's (transport.ts).
 *
 * Errors carry what classify.ts reads: the reply (`response`,
 * `responseCode`), only when the server sent one, a `code`, and `afterData`
 * when the connection failed after the whole message and its final dot were
 * written. Each names the server it came from (`server`, host:port), never
 * the credentials.
 */
export interface SmtpClientOptions {
  /** Connections kept open at most. */
  pool: number;
  /** Silence from the server, in ms, before a conversation is given up. */
  socketTimeoutMs: number;
  /** Messages per connection before it is replaced, as many servers limit them. */
  maxMessages?: number;
  /** An idle connection is closed (QUIT) after this long. */
  idleMs?: number;
}

export interface Envelope {
  from: string;
  to: string;
}

export interface SmtpErrorDetails {
  /** The server's reply, as it sent it; only ever from a reply. */
  response?: string;
  responseCode?: number;
  /** The whole message and its final dot had been written. */
  afterData?: boolean;
  /** No retry will help: the server cannot take this message at all. */
  permanent?: boolean;
}

export class SmtpError extends Error implements SmtpFailure {
  override name = 'SmtpError';
  readonly response: string | undefined;
  readonly responseCode: number | undefined;
  readonly afterData: boolean;
  readonly permanent: boolean;
  constructor(
    message: string,
    readonly code: string,
    /** The server, as host:port. */
    readonly server: string,
    details: SmtpErrorDetails = {},
  ) {
    super(message);
    this.response = details.response;
    this.responseCode = details.responseCode;
    this.afterData = details.afterData ?? false;
    this.permanent = details.permanent ?? false;
  }
}

/** Where to connect and how, from HERALD_SMTP_URL. */
export interface SmtpServer {
  host: string;
  port: number;
  /** smtps://: TLS from the first byte. Otherwise STARTTLS when the server offers it. */
  secure: boolean;
  /** `?starttls=required`: refuse to send over a connection STARTTLS did not protect. */
  requireTls: boolean;
  user?: string;
  pass?: string;
  /** The EHLO name; the local address as a literal unless `?name=` gives one. */
  name?: string;
  /** Certificates are checked, except on loopback, where test and relay peers use their own. */
  rejectUnauthorized: boolean;
}

const QUERY = new Set(['starttls', 'name']);

export function parseSmtpUrl(url: string): SmtpServer {
  const hint = 'HERALD_SMTP_URL looks like smtp://user:password@host:587 or smtps://host:465; options: ?starttls=required, ?name=<EHLO name>';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError('HERALD_SMTP_URL is not a URL', hint);
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new UserError(`HERALD_SMTP_URL has the scheme "${u.protocol}"; herald speaks smtp: and smtps:`, hint);
  for (const k of u.searchParams.keys()) if (!QUERY.has(k)) throw new UserError(`HERALD_SMTP_URL has an unknown option "${k}"`, hint);
  const starttls = u.searchParams.get('starttls');
  if (starttls !== null && starttls !== 'required') throw new UserError(`HERALD_SMTP_URL has starttls=${starttls}; the only value is "required"`, hint);
  const secure = u.protocol === 'smtps:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  // The error never quotes the text: it may be the password.
  const decoded = (text: string, what: 'user name' | 'password') => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new UserError(
        `HERALD_SMTP_URL has a ${what} that is not percent-encoded`,
        'percent-encode the characters that are not letters or digits in the user name and password: write % as %25, @ as %40, : as %3A, / as %2F',
      );
    }
  };
  // AUTH needs a user name: without one the password would be dropped and the server asked to relay unauthenticated.
  if (u.password && !u.username) throw new UserError('HERALD_SMTP_URL has a password but no user name', 'write the user name before the colon, smtp://user:password@host:587 (the ESP\'s docs name it: for some it is "apikey")');
  return {
    host,
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    requireTls: starttls === 'required',
    ...(u.username ? { user: decoded(u.username, 'user name'), pass: decoded(u.password, 'password') } : {}),
    ...(u.searchParams.get('name') ? { name: u.searchParams.get('name')! } : {}),
    rejectUnauthorized: !isLoopback(host),
  };
}

/** host:port, with an IPv6 address in brackets: how messages name the server. */
export function serverAddress(s: Pick<SmtpServer, 'host' | 'port'>): string {
  return `${net.isIPv6(s.host) ? `[${s.host}]` : s.host}:${s.port}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * The bytes DATA carries for a message, final dot included. A composed message
 * (CRLF lines, no line starting with a dot) goes as it is; anything else has
 * its line endings made CRLF and its leading dots doubled, so no content can
 * end the data early (SMTP smuggling needs a dot after a line break).
 */
export function dataBytes(raw: Buffer): Buffer[] {
  const clean = raw[0] !== 0x2e && raw.indexOf('\n.') < 0 && raw.indexOf('\r.') < 0;
  if (clean) return raw.subarray(-2).equals(CRLF) ? [raw, DOT] : [raw, CRLF, DOT];
  const text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n').replace(/(^|\r\n)\./g, '$1..');
  return [Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'latin1'), DOT];
}
const CRLF = Buffer.from('\r\n');
const DOT = Buffer.from('.\r\n');

interface Reply {
  code: number;
  /** The whole reply, lines joined by newlines. */
  text: string;
}

interface Job {
  envelope: Envelope;
  data: Buffer[];
  size: number;
  resolve: (response: string) => void;
  reject: (err: SmtpError) => void;
  /** Already moved once off a reused connection that turned out closed. */
  moved: boolean;
}

export class SmtpPool {
  private readonly queue: Job[] = [];
  private readonly idle: Connection[] = [];
  private readonly live = new Set<Connection>();
  private opening = 0;
  /** Lowered when the server refuses more connections while others work. */
  private limit: number;
  private closed = false;
  /** host:port, for messages. */
  readonly address: string;

  constructor(
    readonly server: SmtpServer,
    readonly options: SmtpClientOptions,
  ) {
    this.limit = options.pool;
    this.address = serverAddress(server);
  }

  /** Resolves with the server's reply to the final dot; rejects with an SmtpError. */
  send(envelope: Envelope, raw: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new SmtpError('the SMTP pool is closed', 'ECLOSED', this.address));
      const data = dataBytes(raw);
      this.queue.push({ envelope, data, size: data[0]!.length, resolve, reject, moved: false });
      this.pump();
    });
  }

  /** Stops taking messages; idle connections say QUIT, busy ones once their work is done. */
  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new SmtpError('the SMTP pool was closed before the message was sent', 'ECLOSED', this.address));
    for (const c of this.idle.splice(0)) c.quit();
  }

  /** The next job for a connection that is done with its current one, if it may take more. */
  next(): Job | undefined {
    return this.closed ? undefined : this.queue.shift();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const c = this.idle.pop()!;
      // The server may have said goodbye (421) to a connection waiting here.
      if (c.usable) c.run(this.queue.shift()!);
      else {
        this.live.delete(c);
        c.quit();
      }
    }
    const wanted = Math.min(this.queue.length, this.limit - this.live.size - this.opening);
    for (let i = 0; i < wanted; i++) this.open();
  }

  private open(): void {
    this.opening++;
    const c = new Connection(this);
    c.open().then(
      () => {
        this.opening--;
        this.live.add(c);
        this.release(c);
      },
      (err: SmtpError) => {
        this.opening--;
        if (this.live.size > 0) {
          // Others work: the server limits connections. Keep to those, which take the queue in turn.
          this.limit = Math.max(1, this.live.size);
        } else if (this.opening === 0) {
          // No connection at all: every waiting message would meet the same refusal.
          for (const job of this.queue.splice(0)) job.reject(err);
        }
      },
    );
  }

  /** A connection finished its work: it takes the next job, waits for one, or goes. */
  release(c: Connection): void {
    if (!c.usable) {
      this.drop(c);
      c.quit();
      return;
    }
    const job = this.next();
    if (job) c.run(job);
    else if (this.closed) {
      this.drop(c);
      c.quit();
    } else {
      this.idle.push(c);
      c.idleSince();
    }
  }

  /** A live connection went (closed, failed, replaced): it takes no more work, and another may open. */
  drop(c: Connection): void {
    // One that never opened was accounted for by open(); replacing it here would redial a refusing server forever.
    if (!this.live.delete(c)) return;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.pump();
  }

  /** A message a reused connection could not start: once more, on another connection. */
  retry(job: Job): void {
    job.moved = true;
    this.queue.unshift(job);
    this.pump();
  }
}

/** One SMTP conversation: a socket, its replies in order, and the server's extensions. */
class Connection {
  private socket!: net.Socket;
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: SmtpError) => void }[] = [];
  private partial = '';
  private lines: string[] = [];
  private failure: SmtpError | undefined;
  private extensions = new Map<string, string>();
  private idleTimer: NodeJS.Timeout | undefined;
  private messages = 0;
  /** A 421 the server sent: it is closing the connection, and this is why. */
  private goodbye: Reply | undefined;
  /** False once the server or the limit of messages says this connection is done. */
  usable = true;

  constructor(private readonly pool: SmtpPool) {}

  async open(): Promise<void> {
    const s = this.pool.server;
    this.attach(s.secure ? tls.connect({ host: s.host, port: s.port, servername: servername(s.host), rejectUnauthorized: s.rejectUnauthorized, minVersion: 'TLSv1.2' }) : net.connect(s.port, s.host));
    try {
      this.expect(await this.reply(), 220, 'EGREETING', 'greeting');
      await this.ehlo();
      if (!s.secure && this.extensions.has('STARTTLS')) await this.starttls();
      else if (!s.secure && (s.requireTls || (s.user !== undefined && !isLoopback(s.host)))) {
        throw this.error(`${this.pool.address} does not offer STARTTLS, and ${s.requireTls ? 'HERALD_SMTP_URL has starttls=required' : 'herald does not send a password in the clear'}`, 'ETLS');
      }
      if (s.user !== undefined) await this.auth(s.user, s.pass ?? '');
    } catch (e) {
      this.destroy();
      throw this.asSmtpError(e, 'ECONNECTION');
    }
  }

  /** Sends `first` and every message the pool has next, one round trip each. */
  run(first: Job): void {
    clearTimeout(this.idleTimer);
    void this.work(first);
  }

  private async work(first: Job): Promise<void> {
    let job = this.checked(first);
    let envelope = job && this.envelope(job);
    while (job && envelope) {
      let written = false;
      let following: Job | undefined;
      let followingEnvelope: Promise<(Reply | undefined)[]> | undefined;
      try {
        const [mail, rcpt, data] = await envelope;
        const refused = [mail, rcpt].find((r) => r && Math.floor(r.code / 100) !== 2);
        if (refused || !data || data.code !== 354) {
          if (data?.code === 354) {
            // Some servers say 354 after a refused RCPT; an empty message ends the transaction.
            this.socket.write('.\r\n');
            await this.reply();
          }
          const r = refused ?? data!;
          job.reject(this.error(`${this.pool.address} refused the envelope: ${r.text}`, 'EENVELOPE', { response: r.text, responseCode: r.code }));
          this.count();
          await this.reset();
        } else {
          this.count();
          following = this.usable ? this.nextJob() : undefined;
          this.socket.cork();
          for (const b of job.data) this.socket.write(b);
          written = true;
          const final = this.reply();
          if (following) followingEnvelope = this.envelope(following);
          this.socket.uncork();
          const r = await final;
          if (r.code === 250) job.resolve(r.text);
          else job.reject(this.error(`${this.pool.address} refused the message: ${r.text}`, 'EMESSAGE', { response: r.text, responseCode: r.code, afterData: true }));
        }
      } catch (e) {
        // The connection failed. A message whose data was not written cannot
        // have been delivered: it moves to another connection, once.
        for (const [j, afterData] of [[job, written], [following, false]] as const) {
          if (!j) continue;
          if (!afterData && !j.moved) this.pool.retry(j);
          else j.reject(this.asSmtpError(e, 'ECONNECTION', afterData));
        }
        this.destroy();
        this.pool.drop(this);
        return;
      }
      job = following;
      envelope = followingEnvelope;
    }
    this.pool.release(this);
  }

  private count(): void {
    if (++this.messages >= (this.pool.options.maxMessages ?? 100)) this.usable = false;
  }

  /** The pool's next message this server can take; those it cannot are refused here, unsent. */
  private nextJob(): Job | undefined {
    for (let job = this.pool.next(); job; job = this.pool.next()) {
      if (this.checked(job)) return job;
    }
    return undefined;
  }

  private checked(job: Job): Job | undefined {
    const refusal = this.refuseLocally(job);
    if (!refusal) return job;
    job.reject(refusal);
    return undefined;
  }

  /**
   * MAIL, RCPT and DATA for a message: in one write with PIPELINING, else one
   * at a time. The replies, in order; with PIPELINING all three always come.
   * A failed connection rejects the promise (handled where it is awaited).
   */
  private envelope(job: Job): Promise<(Reply | undefined)[]> {
    const mail = `MAIL FROM:<${job.envelope.from}>${this.mailParameters(job)}\r\n`;
    const rcpt = `RCPT TO:<${job.envelope.to}>\r\n`;
    let replies: Promise<(Reply | undefined)[]>;
    if (this.extensions.has('PIPELINING')) {
      this.socket.write(`${mail}${rcpt}DATA\r\n`);
      replies = Promise.all([this.reply(), this.reply(), this.reply()]);
    } else {
      replies = (async () => {
        this.socket.write(mail);
        const m = await this.reply();
        if (m.code !== 250) return [m, undefined, undefined];
        this.socket.write(rcpt);
        const r = await this.reply();
        if (Math.floor(r.code / 100) !== 2) return [m, r, undefined];
        this.socket.write('DATA\r\n');
        return [m, r, await this.reply()];
      })();
    }
    // A following message's envelope is awaited only if its predecessor's reply came.
    replies.catch(() => undefined);
    return replies;
  }

  private mailParameters(job: Job): string {
    const p: string[] = [];
    if (this.extensions.has('SIZE')) p.push(`SIZE=${job.size}`);
    if (this.extensions.has('SMTPUTF8') && !isAscii(job.envelope.from + job.envelope.to)) p.push('SMTPUTF8');
    return p.length ? ` ${p.join(' ')}` : '';
  }

  /** What the server said it cannot take is not offered to it. */
  private refuseLocally(job: Job): SmtpError | undefined {
    const max = Number(this.extensions.get('SIZE'));
    if (max > 0 && job.size > max) return this.error(`the message is ${job.size} bytes; ${this.pool.address} takes at most ${max}`, 'ESIZE', { permanent: true });
    if (!isAscii(job.envelope.from + job.envelope.to) && !this.extensions.has('SMTPUTF8')) {
      return this.error(`${this.pool.address} does not offer SMTPUTF8, needed for ${job.envelope.to}`, 'EENVELOPE', { permanent: true });
    }
    if (/[\r\n<>]/.test(job.envelope.from + job.envelope.to)) return this.error(`not an address: ${JSON.stringify(job.envelope.to)}`, 'EENVELOPE', { permanent: true });
    return undefined;
  }

  /** After a refused envelope: RSET, so the next MAIL starts clean. */
  private async reset(): Promise<void> {
    this.socket.write('RSET\r\n');
    const r = await this.reply();
    if (r.code !== 250) this.usable = false;
  }

  private async ehlo(): Promise<void> {
    const s = this.pool.server;
    const name = s.name ?? localName(this.socket);
    this.socket.write(`EHLO ${name}\r\n`);
    let r = await this.reply();
    if (r.code !== 250) {
      // An old server: HELO, and none of the extensions.
      this.socket.write(`HELO ${name}\r\n`);
      r = await this.reply();
      this.expect(r, 250, 'EPROTOCOL', 'HELO');
    }
    this.extensions = new Map(
      r.text.split('\n').slice(1).map((line) => {
        const [k, ...v] = line.slice(4).trim().split(/[\s=]+/);
        return [k!.toUpperCase(), v.join(' ')] as const;
      }),
    );
  }

  private async starttls(): Promise<void> {
    const s = this.pool.server;
    this.socket.write('STARTTLS\r\n');
    this.expect(await this.reply(), 220, 'ETLS', 'STARTTLS');
    // Anything the server sent after its 220 came before TLS: never read it as protected (CVE-2011-0411).
    if (this.partial || this.lines.length) throw this.error(`${this.pool.address} sent data after its STARTTLS reply`, 'ETLS');
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.setTimeout(0);
    const secure = tls.connect({ socket: plain, servername: servername(s.host), rejectUnauthorized: s.rejectUnauthorized, minVersion: 'TLSv1.2' });
    this.attach(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    await this.ehlo();
  }

  private async auth(user: string, pass: string): Promise<void> {
    const methods = (this.extensions.get('AUTH') ?? '').toUpperCase().split(/\s+/);
    const b64 = (x: string) => Buffer.from(x, 'utf8').toString('base64');
    if (methods.includes('PLAIN')) {
      this.socket.write(`AUTH PLAIN ${b64(`\0${user}\0${pass}`)}\r\n`);
    } else if (methods.includes('LOGIN')) {
      this.socket.write('AUTH LOGIN\r\n');
      this.expect(await this.reply(), 334, 'EAUTH', 'AUTH LOGIN');
      this.socket.write(`${b64(user)}\r\n`);
      this.expect(await this.reply(), 334, 'EAUTH', 'AUTH LOGIN');
      this.socket.write(`${b64(pass)}\r\n`);
    } else {
      throw this.error(`${this.pool.address} offers no AUTH method herald speaks (PLAIN, LOGIN): "${methods.join(' ') || 'none'}"`, 'EAUTH');
    }
    this.expect(await this.reply(), 235, 'EAUTH', 'AUTH');
  }

  private expect(r: Reply, code: number, errCode: string, what: string): void {
    if (r.code !== code) {
      throw this.error(`${this.pool.address} ${what === 'greeting' ? 'greeted' : `answered ${what}`} with: ${r.text}`, errCode, { response: r.text, responseCode: r.code });
    }
  }

  private error(message: string, code: string, details?: SmtpErrorDetails): SmtpError {
    return new SmtpError(message, code, this.pool.address, details);
  }

  /**
   * An SmtpError for a failure of this connection. A message whose data was
   * written is marked afterData, and then carries a reply only if it was the
   * reply to its own final dot: whatever else the server said (a 421 to
   * another command) goes into the words, so it is recorded but never read
   * as the message's verdict.
   */
  private asSmtpError(e: unknown, code: string, afterData = false): SmtpError {
    if (e instanceof SmtpError) {
      if (afterData === e.afterData) return e;
      return this.error(e.message, e.code, afterData ? { afterData, permanent: e.permanent } : { response: e.response, responseCode: e.responseCode, permanent: e.permanent });
    }
    return this.error(`${this.pool.address}: ${String((e as Error)?.message ?? e)}`, (e as { code?: string })?.code ?? code, { afterData });
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.pool.options.socketTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('timeout', () => {
      if (this.waiting.length === 0) this.quit();
      else this.fail(this.error(`no reply from ${this.pool.address} in ${this.pool.options.socketTimeoutMs / 1000} s`, 'ETIMEDOUT'));
    });
    socket.on('error', (e: Error) => this.fail(this.error(`${this.pool.address}: ${describeSocketError(e)}`, (e as { code?: string }).code ?? 'ECONNECTION')));
    socket.on('close', () => {
      this.fail(this.error(`${this.pool.address} closed the connection`, 'ECONNECTION'));
      this.pool.drop(this);
    });
  }

  private read(chunk: Buffer): void {
    this.partial += chunk.toString('latin1');
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl).replace(/\r$/, '');
      this.partial = this.partial.slice(nl + 1);
      this.lines.push(line);
      if (line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)) || 0, text: Buffer.from(this.lines.join('\n'), 'latin1').toString('utf8') };
      this.lines = [];
      // 421: the server is closing the connection, whatever it was asked.
      if (reply.code === 421) {
        this.usable = false;
        this.goodbye = reply;
      }
      const w = this.waiting.shift();
      if (w) w.resolve(reply);
      else this.usable = false; // a reply nobody asked for: the conversation is out of step.
    }
    if (this.partial.length > 64 * 1024) this.fail(this.error(`${this.pool.address} sent a line longer than 64 KB`, 'EPROTOCOL'));
  }

  /** The next reply. Waiters are registered in the order the commands were written. */
  private reply(): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private fail(err: SmtpError): void {
    if (!this.failure) {
      // After a 421 the connection ends; what the server said is why, for every command still waiting.
      const g = this.goodbye;
      this.failure = g && err.response === undefined ? this.error(`${err.message}: ${g.text}`, err.code, { response: g.text, responseCode: g.code }) : err;
    }
    this.usable = false;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
    this.destroy();
  }

  idleSince(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.pool.drop(this);
      this.quit();
    }, this.pool.options.idleMs ?? 30_000);
    this.idleTimer.unref();
  }

  /** Says goodbye and closes, not waiting for the answer. */
  quit(): void {
    clearTimeout(this.idleTimer);
    this.usable = false;
    if (!this.socket || this.socket.destroyed) return;
    this.socket.end('QUIT\r\n');
    setTimeout(() => this.destroy(), 1000).unref();
  }

  private destroy(): void {
    clearTimeout(this.idleTimer);
    this.socket?.destroy();
  }
}

/** A socket error in words: "connection refused" rather than "connect ECONNREFUSED 127.0.0.1:25", the address being named already. */
function describeSocketError(e: Error): string {
  const code = (e as { code?: string }).code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens there)',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name could not be resolved now',
    ETIMEDOUT: 'the connection timed out',
    EPIPE: 'the connection was closed while herald was writing',
  };
  return (code && words[code]) || e.message;
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

/** SNI takes a name, never an address. */
function servername(host: string): string | undefined {
  return net.isIP(host) ? undefined : host;
}

/** The EHLO name: this machine's name when it is a domain, else its address as a literal (RFC 5321 4.1.3). */
function localName(socket: net.Socket): string {
  const h = hostname();
  if (h.includes('.')) return h;
  const ip = socket.localAddress ?? '127.0.0.1';
  return net.isIPv6(ip) ? `[IPv6:${ip}]` : `[${ip.replace(/^::ffff:/, '')}]`;
}
