import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * An SMTP peer in a Node process of its own, so that it can SIGKILL the
 * process sending to it, at a chosen message, and outlive it. It counts every
 * message whose DATA it received completely, by Message-ID: what a receiving
 * server would deliver, whether or not its reply reached the sender.
 *
 * Node 20 cannot run this TypeScript file in a child process, so the child's
 * program is the JavaScript below, run with `node -e`; it imports smtp-server
 * by absolute file URL and speaks to the test over IPC.
 */
export interface SmtpPeer {
  url: string;
  /**
   * Arms a crash: when the nth message (counted from the peer's start) has
   * been received, SIGKILL the process given to target(). `before-reply`
   * kills before the 250 is written (received but not acknowledged: the
   * classic duplicate window); `after-reply` kills once the 250 is on its way.
   * The nth message is held until the target is known.
   */
  killAt(n: number, when: KillWhen): void;
  target(pid: number): void;
  /**
   * Answers the first n messages (counted from the peer's start) and none
   * after them: they are received whole and held without a reply, as a
   * server that hangs would. hold(Infinity) answers again from the next one.
   */
  hold(after: number): void;
  /** Resolves when the armed kill happened: which message it was. */
  killed(): Promise<{ pid: number; nth: number; messageId: string }>;
  /**
   * Every Message-ID received, with how many times; `missing` counts messages
   * without one; `held`, the Message-IDs received and never answered.
   */
  accepted(): Promise<{ ids: Map<string, number>; total: number; missing: number; held: string[] }>;
  close(): Promise<void>;
}

export type KillWhen = 'before-reply' | 'after-reply';

export interface SmtpPeerOptions {
  /** Wait this long before replying to each message (a slow server). */
  delayMs?: number;
}

const smtpServerUrl = pathToFileURL(createRequire(import.meta.url).resolve('smtp-server')).href;

const PROGRAM = `
import { SMTPServer } from ${JSON.stringify(smtpServerUrl)};

const { delayMs } = JSON.parse(process.argv[1]);
const MESSAGE_ID = /^Message-ID:[ \\t]*(<[^>\\r\\n]*>)/im;
const HEAD_BYTES = 8192;
const ids = new Map();
let total = 0;
let missing = 0;
let armed; // { n, when }
let holdAfter = Infinity;
const held = [];
let pid;
let pidKnown;
const pidArrived = new Promise((resolve) => (pidKnown = resolve));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function received(messageId, reply) {
  const nth = ++total;
  if (messageId) ids.set(messageId, (ids.get(messageId) ?? 0) + 1);
  else missing++;
  if (delayMs) await sleep(delayMs);
  if (nth > holdAfter) return void held.push(messageId);
  if (!armed || nth !== armed.n) return reply();
  const { when } = armed;
  armed = undefined;
  const victim = pid ?? (await pidArrived);
  let error;
  const kill = () => {
    try {
      process.kill(victim, 'SIGKILL');
    } catch (e) {
      error = String(e?.message ?? e);
    }
  };
  if (when === 'before-reply') {
    kill();
    reply();
  } else {
    reply();
    // Give the sender a moment to read the 250 before it dies.
    await sleep(20);
    kill();
  }
  process.send({ type: 'killed', pid: victim, nth, messageId, error });
}

const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  authOptional: true,
  disableReverseLookup: true,
  logger: false,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (chunk) => {
      if (head.length < HEAD_BYTES) head += chunk.toString('latin1', 0, Math.min(chunk.length, HEAD_BYTES - head.length));
    });
    stream.on('end', () => {
      const messageId = MESSAGE_ID.exec(head)?.[1];
      received(messageId, () => callback(null, 'accepted ' + (messageId ?? 'without Message-ID')));
    });
  },
});
// A sender killed mid-conversation resets its connections: expected here.
server.on('error', (e) => {
  if (e?.code !== 'ECONNRESET' && e?.code !== 'EPIPE') console.error('SMTP peer:', e);
});

process.on('message', (m) => {
  if (m.type === 'arm') armed = { n: m.n, when: m.when };
  else if (m.type === 'target') pidKnown((pid = m.pid));
  else if (m.type === 'hold') holdAfter = m.after === null ? Infinity : m.after;
  else if (m.type === 'accepted') process.send({ type: 'accepted', ids: [...ids], total, missing, held });
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.server.address().port }));
`;

type FromPeer =
  | { type: 'ready'; port: number }
  | { type: 'killed'; pid: number; nth: number; messageId: string; error?: string }
  | { type: 'accepted'; ids: [string, number][]; total: number; missing: number; held: string[] };

export async function startSmtpPeer(opts: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', PROGRAM, JSON.stringify({ delayMs: opts.delayMs ?? 0 })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: { type: FromPeer['type']; resolve(m: FromPeer): void; reject(e: Error): void }[] = [];
  const next = <T extends FromPeer['type']>(type: T) =>
    new Promise<Extract<FromPeer, { type: T }>>((resolve, reject) => {
      waiting.push({ type, resolve: resolve as (m: FromPeer) => void, reject });
    });
  child.on('message', (m: FromPeer) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
  });
  child.once('exit', (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`the SMTP peer exited (${signal ?? code}) before "${w.type}"`));
  });
  const ready = await next('ready');
  const killed = next('killed').then(({ pid, nth, messageId, error }) => {
    if (error) throw new Error(`the SMTP peer could not kill ${pid} at message ${nth}: ${error}`);
    return { pid, nth, messageId };
  });
  killed.catch(() => {});
  return {
    url: `smtp://127.0.0.1:${ready.port}`,
    killAt(n, when) {
      child.send({ type: 'arm', n, when });
    },
    target(pid) {
      child.send({ type: 'target', pid });
    },
    hold(after) {
      // JSON has no Infinity.
      child.send({ type: 'hold', after: Number.isFinite(after) ? after : null });
    },
    killed: () => killed,
    async accepted() {
      const reply = next('accepted');
      child.send({ type: 'accepted' });
      const m = await reply;
      return { ids: new Map(m.ids), total: m.total, missing: m.missing, held: m.held };
    },
    close() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
