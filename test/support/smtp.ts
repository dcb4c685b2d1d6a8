import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { smtpTransport, type Transport } from '../../src/channels/email/transport.js';

/** A real SMTP peer on 127.0.0.1 that keeps every accepted message, parsed back. */
export interface SmtpSink {
  url: string;
  messages: ParsedMail[];
  /** Envelope recipients per accepted message, in arrival order. */
  envelopes: string[][];
  /** The envelope sender (MAIL FROM) of each accepted message, in arrival order. */
  senders: string[];
  /** Each accepted message's To, subject and HTML, in arrival order. */
  arrived: { to: string; subject: string; html: string }[];
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ParsedMail[] = [];
  const envelopes: string[][] = [];
  const senders: string[] = [];
  const arrived: SmtpSink['arrived'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          messages.push(parsed);
          envelopes.push(session.envelope.rcptTo.map((r) => r.address));
          senders.push(session.envelope.mailFrom ? session.envelope.mailFrom.address : '');
          arrived.push({ to: (parsed.to as { text: string } | undefined)?.text ?? '', subject: parsed.subject ?? '', html: String(parsed.html) });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    envelopes,
    senders,
    arrived,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A sink and herald's SMTP transport to it (a pool of 2), both closed by
 * `cleanup`: what a test that sends through the ledger and reads back what
 * arrived needs.
 */
export async function sinkWithTransport(cleanup: (...f: (() => Promise<void> | void)[]) => void): Promise<{ arrived: SmtpSink['arrived']; transport: Transport }> {
  const sink = await startSmtpSink();
  cleanup(() => sink.close());
  const transport = smtpTransport(sink.url, { pool: 2 });
  cleanup(() => transport.close());
  return { arrived: sink.arrived, transport };
}
