import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { simpleParser, type ParsedMail } from 'mailparser';
import { composeMessage, composeRendered, type ComposedMessage } from '../../../src/channels/email/compose.js';
import { smtpTransport } from '../../../src/channels/email/transport.js';
import type { RenderedMessage } from '../../../src/render/message.js';
import type { Site } from '../../../src/workspace/model.js';
import { startSmtpSink, type SmtpSink } from '../../support/smtp.js';
import { useCleanups } from '../../support/cleanup.js';

const cleanup = useCleanups();

/** Sends composed messages through a real SMTP peer, which parses each one back with mailparser. */
async function sendAll(...messages: ComposedMessage[]): Promise<SmtpSink> {
  const sink = await startSmtpSink();
  const transport = smtpTransport(sink.url);
  cleanup(() => sink.close(), () => transport.close());
  for (const [i, m] of messages.entries()) await transport.send(m, { source: 'campaign', ledgerId: i });
  return sink;
}

/**
 * The raw message's header lines and its parts, each part's body decoded from
 * base64 here: mailparser turns CRLF into LF in text parts, so only the raw
 * bytes can show a body arrives exactly as given.
 */
function rawParts(raw: Buffer): { headerLines: string[]; parts: { headers: string; bodyLines: string[]; body: string }[] } {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const headerLines = text.slice(0, end).split('\r\n');
  const boundary = /boundary="([^"]+)"/.exec(text.slice(0, end))![1]!;
  const parts = text
    .slice(end + 4)
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => {
      const split = p.indexOf('\r\n\r\n');
      const bodyLines = p.slice(split + 4).replace(/\r\n$/, '').split('\r\n');
      return { headers: p.slice(0, split), bodyLines, body: Buffer.from(bodyLines.join(''), 'base64').toString('utf8') };
    });
  return { headerLines, parts };
}

/** The one change compose documents for header text: line breaks become spaces, ends are trimmed. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').trim();

/** A header as mailparser saw it, unfolded. */
const headerLine = (m: ParsedMail, key: string) => m.headerLines.find((h) => h.key === key)?.line.replace(/\r?\n[ \t]+/g, ' ');

const site: Site = {
  id: 'shop-ru',
  name: 'Нордвинд',
  url: 'https://shop.example.com',
  locales: ['ru'],
  default_locale: 'ru',
  currency: 'RUB',
  sender: { from: 'news@shop.example.com', name: 'Нордвинд', reply_to: 'care@shop.example.com' },
};

function rendered(over: Partial<RenderedMessage>): RenderedMessage {
  return {
    subject: 'Hello',
    preheader: '',
    html: '<p>Hello</p>',
    text: 'Hello',
    from: { name: 'Нордвинд', address: 'news@shop.example.com' },
    replyTo: 'care@shop.example.com',
    links: {
      unsubscribe: 'https://mail.shop.example.com/unsubscribe/tok.sig',
      unsubscribeMailto: 'mailto:care@shop.example.com?subject=unsubscribe%20tok.sig',
      autoLogin: 'https://shop.example.com/auto-login?token=t',
    },
    site,
    ...over,
  };
}

describe('composeRendered over SMTP', () => {
  it('carries every header a mailbox reads, decoded exactly as given', async () => {
    // Cyrillic, an emoji outside the BMP, and long enough to need several encoded words and folds.
    const subject = `Борис, давно не виделись 👋 — ${'скидка 20% на всё, что вы любите; '.repeat(6)}до воскресенья`;
    expect(subject.length).toBeGreaterThan(200);
    const composed = composeRendered(rendered({ subject }), { to: 'boris@example.org', id: 'campaign.123' });
    const sink = await sendAll(composed);
    const [m] = sink.messages;

    expect(m!.from?.value).toEqual([{ name: 'Нордвинд', address: 'news@shop.example.com' }]);
    expect(m!.replyTo?.value).toEqual([{ name: '', address: 'care@shop.example.com' }]);
    expect(m!.to).toMatchObject({ value: [{ name: '', address: 'boris@example.org' }] });
    expect(m!.subject).toBe(subject);
    expect(m!.messageId).toBe('<campaign.123@shop.example.com>');
    expect(composed.messageId).toBe('<campaign.123@shop.example.com>');
    // Composed just now, written the RFC 5322 way.
    expect(headerLine(m!, 'date')).toMatch(/^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/);
    expect(Math.abs(m!.date!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(m!.headers.get('mime-version')).toBe('1.0');

    // Both unsubscribe routes, and RFC 8058 one-click for the https one.
    expect(headerLine(m!, 'list-unsubscribe')).toBe(
      'List-Unsubscribe: <https://mail.shop.example.com/unsubscribe/tok.sig>, <mailto:care@shop.example.com?subject=unsubscribe%20tok.sig>',
    );
    expect(headerLine(m!, 'list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(sink.envelopes).toEqual([['boris@example.org']]);
  });

  it('keeps display names with quotes, commas and angle brackets whole', async () => {
    const names = [
      'Northwind "Outlet", Berlin',
      'ООО «Нордвинд», Москва',
      // Non-ASCII next to ASCII specials: bare, the quotes would vanish and the
      // brackets would make a second address, the one a reader shows as From.
      'Нордвинд "Outlet"',
      'Нордвинд <sale@elsewhere.example>',
      "O'Brien \\ Söhne",
    ];
    const sink = await sendAll(...names.map((name, i) => composeRendered(rendered({ from: { name, address: 'news@shop.example.com' } }), { to: 'anna@example.com', id: `c.${i}` })));
    expect(sink.messages.map((m) => m.from?.value)).toEqual(names.map((name) => [{ name, address: 'news@shop.example.com' }]));
  });

  it('delivers the text and HTML parts byte for byte, base64-encoded', async () => {
    const longLine = 'Ж'.repeat(1500) + 'x'.repeat(1500);
    const text = `Здравствуйте, Борис!\r\nWindows line\nUnix line\n\n${longLine}\r\n€ 👋 ü\n`;
    const html = `<!doctype html><html><body>\r\n<p style="color:#0b3954">Здравствуйте, Борис! 👋</p>\n<p>${longLine}</p></body></html>`;
    const composed = composeMessage({ from: { address: 'news@shop.example.com' }, to: 'boris@example.org', subject: 'Parts', text, html, messageId: 'campaign.1@shop.example.com' });
    const [m] = (await sendAll(composed)).messages;

    // mailparser reads text parts with LF line ends...
    expect(m!.text).toBe(text.replace(/\r\n/g, '\n'));
    expect(m!.html).toBe(html.replace(/\r\n/g, '\n'));
    // ...so the raw bytes show the CRLF / LF mix survives as given.
    const { parts } = rawParts(composed.raw);
    expect(parts.map((p) => p.body)).toEqual([text, html]);
    for (const p of parts) {
      expect(p.headers).toContain('Content-Transfer-Encoding: base64');
      expect(p.headers).toContain('charset=utf-8');
    }
    expect(parts.map((p) => p.headers.match(/Content-Type: (\S+);/)?.[1])).toEqual(['text/plain', 'text/html']);
  });

  it('lets no subject or display name add a header or a recipient', async () => {
    const composed = composeRendered(rendered({ subject: 'Sale\r\nBcc: evil@x.example', from: { name: 'Shop\r\nBcc: evil@x.example', address: 'news@shop.example.com' } }), {
      to: 'anna@example.com',
      id: 'campaign.7',
    });
    const sink = await sendAll(composed);
    const [m] = sink.messages;

    expect(sink.envelopes).toEqual([['anna@example.com']]);
    expect(m!.bcc).toBeUndefined();
    expect(m!.headers.has('bcc')).toBe(false);
    expect(composed.raw.toString('latin1')).not.toMatch(/^Bcc:/im);
    // The text stays, on one line.
    expect(m!.subject).toBe('Sale Bcc: evil@x.example');
    expect(m!.from?.value).toEqual([{ name: 'Shop Bcc: evil@x.example', address: 'news@shop.example.com' }]);
  });
});

describe('composeMessage', () => {
  it('writes a lone surrogate (a broken token) as U+FFFD, as UTF-8 writers do, and the rest as given', () => {
    const text = `Здравствуйте, \ud800Борис \udc00👋`;
    const composed = composeMessage({ from: { address: 'news@shop.example.com' }, to: 'anna@example.com', subject: 's', text, html: `<p>${text}</p>`, messageId: 'campaign.1@shop.example.com' });
    expect(rawParts(composed.raw).parts.map((p) => p.body)).toEqual(['Здравствуйте, \ufffdБорис \ufffd👋', '<p>Здравствуйте, \ufffdБорис \ufffd👋</p>']);
  });

  it('gives every message its own boundary', () => {
    const boundary = (raw: Buffer) => /boundary="([^"]+)"/.exec(raw.toString('latin1'))![1];
    const compose = () => composeMessage({ from: { address: 'news@shop.example.com' }, to: 'anna@example.com', subject: 's', text: 't', html: 'h', messageId: 'campaign.1@shop.example.com' }).raw;
    const seen = new Set(Array.from({ length: 1000 }, () => boundary(compose())));
    expect(seen.size).toBe(1000);
  });

  it('round-trips any subject, display name and body, within RFC 5322 line limits', async () => {
    // Whole code points, any plane; control characters included. Half surrogates
    // are not text (UTF-8 cannot carry them), so they are left out.
    const unicode = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
    const body = fc.oneof(unicode(3000), fc.string({ unit: fc.constantFrom('a', 'é', '\r\n', '\n', ' ', '👋'), maxLength: 2000 }));
    await fc.assert(
      fc.asyncProperty(unicode(1200), unicode(200), body, body, async (subject, name, text, html) => {
        const composed = composeMessage({ from: { name, address: 'news@shop.example.com' }, to: 'anna@example.com', subject, text, html, messageId: 'campaign.1@shop.example.com' });
        const m = await simpleParser(composed.raw);

        expect(m.subject ?? '').toBe(oneLine(subject));
        expect(m.from?.value).toEqual([{ name: oneLine(name), address: 'news@shop.example.com' }]);
        // mailparser leaves out an empty part and reads line ends as LF.
        expect(m.text ?? '').toBe(text.replace(/\r\n/g, '\n'));
        expect(m.html || '').toBe(html.replace(/\r\n/g, '\n'));

        const { headerLines, parts } = rawParts(composed.raw);
        expect(parts.map((p) => p.body)).toEqual([text, html]);
        for (const line of headerLines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
        for (const p of parts) for (const line of p.bodyLines) expect(line.length).toBeLessThanOrEqual(76);
      }),
      {
        numRuns: 300,
        examples: [
          // Text that looks like an encoded word stays literal.
          ['Sale =?utf-8?B?SGk=?= today', '=?utf-8?B?SGk=?=', 'a', 'b'],
          // A word too long to fold at a space still fits the line limit.
          ['x'.repeat(1200), 'y'.repeat(200), '', ''],
          // Control characters in a display name survive.
          ['Sale\tnow', 'Nord\u0001wind\u000b', 'a', 'b'],
        ],
      },
    );
  });
});
