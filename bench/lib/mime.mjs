// A plain MIME builder, plain link signing and a text part made from HTML,
// as a developer would write them for a newsletter sender, for
// bench/render.mjs's independent lower bound and bench/send.mjs's
// developer's loop: nothing here comes from herald (src/channels/email/compose.ts,
// src/links/) or from libmime, so the bound does not share the code it is
// compared with. Written here rather than taken from nodemailer's composer,
// which builds a message through a chain of streams: that measures its
// streams (~0.6 ms for 50 KB), not the least work a message needs.
//
// What it does is what every sent message needs: a multipart/alternative
// message, text and HTML parts in base64 (RFC 2045 lines of 76), non-ASCII
// header text as RFC 2047 B-words of at most 45 bytes each, long headers
// folded; links signed as HMAC-SHA256 tokens over base64url JSON, each link
// of the HTML and text made a click link, an open pixel, a VERP return path
// and a Message-ID tag.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { convert } from 'html-to-text';

/** Header text: printable ASCII as it is, anything else as UTF-8 B-words. */
function headerText(s) {
  if (/^[\x20-\x7e]*$/.test(s) && !s.includes('=?')) return s;
  const words = [];
  let word = '';
  for (const ch of s) {
    if (Buffer.byteLength(word + ch) > 45) {
      words.push(word);
      word = '';
    }
    word += ch;
  }
  words.push(word);
  return words.map((w) => `=?utf-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ');
}

const oneLine = (s) => s.replace(/[\r\n]+/g, ' ').trim();
const bare = (s) => s.replace(/[\r\n<>,;"]/g, '').trim();

function address(a) {
  if (!a.name) return bare(a.address);
  const name = oneLine(a.name);
  const text = headerText(name);
  return `${text === name ? `"${name.replace(/["\\]/g, '\\$&')}"` : text} <${bare(a.address)}>`;
}

/** Base64 in lines of 76. */
function base64(s) {
  const b64 = Buffer.from(s, 'utf8').toString('base64');
  const lines = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n');
}

/** A header folded at its list's commas, where it would pass 76 characters. */
const header = (name, value) => `${name}: ${value.length + name.length > 76 ? value.split(', ').join(',\r\n ') : value}`;

/** The message as bytes: { from, replyTo?, to, subject, html, text, messageId, headers? }. */
export function plainMime(m) {
  const boundary = `b-${randomBytes(12).toString('hex')}`;
  const head = [
    header('From', address(m.from)),
    ...(m.replyTo ? [header('Reply-To', bare(m.replyTo))] : []),
    header('To', bare(m.to)),
    `Subject: ${headerText(oneLine(m.subject))}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${m.messageId}>`,
    ...Object.entries(m.headers ?? {}).map(([k, v]) => header(k, v)),
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ].join('\r\n');
  const part = (type, body) => `--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64(body)}\r\n`;
  return Buffer.from(`${head}\r\n\r\n${part('text/plain', m.text)}${part('text/html', m.html)}--${boundary}--\r\n`, 'utf8');
}

// ── Links ────────────────────────────────────────────────────────────────────
const keyIds = new Map();
const keyId = (secret) => {
  let k = keyIds.get(secret);
  if (!k) keyIds.set(secret, (k = createHash('sha256').update(`herald key id\0${secret}`).digest('hex').slice(0, 6)));
  return k;
};

/** base64url(JSON) + "." + base64url(HMAC-SHA256): the token format herald's links carry, so the messages are the same size. */
export function plainToken(payload, secret) {
  const body = Buffer.from(JSON.stringify({ ...payload, k: keyId(secret) })).toString('base64url');
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

const shortMac = (text, secret, length = 16) => createHmac('sha256', secret).update(text).digest('hex').slice(0, length);

/** The unsubscribe and auto-login links of a message, signed. */
export function plainLinks({ base, site, secret, now, customerId, ledgerId }) {
  const unsubscribe = plainToken({ p: 'u', m: ledgerId }, secret);
  const exp = Math.floor(now.getTime() / 1000) + 7 * 86_400;
  return {
    unsubscribe: `${base}/u/${unsubscribe}`,
    unsubscribeMailto: `mailto:${site.sender.reply_to ?? site.sender.from}?subject=unsubscribe%20${unsubscribe}`,
    autoLogin: `${site.url.replace(/\/+$/, '')}/auto-login?token=${plainToken({ p: 'login', c: customerId, s: site.id, exp, n: randomBytes(9).toString('base64url') }, secret)}`,
  };
}

const setHashes = new Map();
const HREF = /(<a\s[^>]*?href=")(https?:\/\/[^"]+)"/gi;
const TEXT_URL = /https?:\/\/[^\s<>"'\])]+/g;

/**
 * Click tracking as a developer would add it: every link of the HTML and the
 * text to `<base>/c/<token>` (the message, its link set's hash, the link's
 * index), the open pixel before </body>; links already on `base` stay.
 */
export function plainTrack({ html, text }, { base, secret, ledgerId }) {
  const urls = [];
  const index = new Map();
  const at = (url) => {
    let i = index.get(url);
    if (i === undefined) index.set(url, (i = urls.push(url) - 1));
    return i;
  };
  const mine = `${base}/`;
  html.replace(HREF, (_, __, url) => (url.startsWith(mine) ? '' : at(url.replaceAll('&amp;', '&'))));
  text.replace(TEXT_URL, (url) => (url.startsWith(mine) ? '' : at(url)));
  const key = JSON.stringify(urls);
  let hash = setHashes.get(key);
  if (!hash) setHashes.set(key, (hash = createHash('sha256').update(key).digest('base64url').slice(0, 16)));
  // One token for the message's links, each link's index after it, as herald's links are made (src/links/tracking.ts).
  const token = plainToken({ p: 'l', m: ledgerId, h: hash }, secret);
  const links = urls.map((_, i) => `${base}/c/${token}/${i}`);
  const pixel = `<img src="${base}/o/${plainToken({ p: 'o', m: ledgerId }, secret)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px;" />`;
  return {
    html: html.replace(HREF, (whole, open, url) => (url.startsWith(mine) ? whole : `${open}${links[index.get(url.replaceAll('&amp;', '&'))]}"`)).replace('</body>', `${pixel}</body>`),
    text: text.replace(TEXT_URL, (url) => (url.startsWith(mine) ? url : links[index.get(url)])),
    links: urls.length,
  };
}

/** The VERP return path and the Message-ID's tag, as herald's messages carry them. */
export function plainEnvelope({ bounces, secret, ledgerId }) {
  const id = ledgerId.toString(36);
  const [local, domain] = bounces.split('@');
  return { returnPath: `${local}+${id}-${keyId(secret)}-${shortMac(`verp\0${id}`, secret)}@${domain}`, tag: shortMac(`message-id\0${ledgerId}`, secret, 12) };
}

/**
 * A message's text part made from its HTML as a developer would, with
 * html-to-text: links that are only an image dropped first (their bare
 * addresses would open the text), lines wrapped at 78, MJML's layout tables
 * read as blocks. Run once on a template, tokens still in it.
 */
export function textOfHtml(html) {
  return convert(html.replace(/<a\b[^>]*>(?:\s|<img\b[^>]*>)*<\/a>/gi, ''), {
    wordwrap: 78,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'table', format: 'block' },
      { selector: 'tr', format: 'block' },
      { selector: 'td', format: 'block' },
    ],
  }).trim();
}
