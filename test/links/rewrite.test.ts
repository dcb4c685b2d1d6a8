import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { AUTO_LOGIN, trackMessage, type TrackOptions } from '../../src/links/rewrite.js';
import { readTrackingToken } from '../../src/links/tracking.js';
import { verifyLink } from '../../src/links/verify.js';

const SECRET = 'rewrite-test-secret-0123456789abcdef0123';
const base: TrackOptions = {
  ledgerId: 42,
  secret: SECRET,
  base: 'https://t.example.com',
  opens: true,
  clicks: true,
  shopHosts: new Set(['shop.example.com']),
  // The site's domains: its own, and two more listed in its `domains:`.
  hosts: ['shop.example.com', 'other.example.org', 'unlinked.example.net'],
  autoLogin: 'https://shop.example.com/auto-login?token=abc.def',
};

function clicked(html: string): { index: number; set: string }[] {
  return [...html.matchAll(/href=["'](https:\/\/t\.example\.com\/c\/[^"']+)["']/g)].map((m) => {
    const r = verifyLink(m[1]!, SECRET);
    if (!r.ok || r.link.kind !== 'click') throw new Error(`not a click token: ${m[1]}`);
    expect(r.link.message).toBe(42);
    return { index: r.link.index, set: r.link.set };
  });
}

describe('trackMessage', () => {
  const html =
    '<html><body>' +
    '<a href="https://shop.example.com/new?a=1&amp;b=2">New</a>' +
    '<a class="x" href=\'https://other.example.org/page#top\'>Other</a>' +
    '<a href="https://shop.example.com/auto-login?token=abc.def&amp;next=%2Fcart">Cart</a>' +
    '<a href="mailto:care@shop.example.com">Mail</a>' +
    '<a href="https://t.example.com/u/tok">Unsubscribe</a>' +
    '<a href="https://shop.example.com/new?a=1&b=2">New again</a>' +
    '</body></html>';
  const text = 'New: https://shop.example.com/new?a=1&b=2\nUnsubscribe: https://t.example.com/u/tok\nElsewhere: https://unlinked.example.net/x';

  it('rewrites each http link to a signed click link naming the message, its set and its index', () => {
    const t = trackMessage({ html, text }, base);
    expect(t.linkSet!.urls).toEqual([
      'https://shop.example.com/new?a=1&b=2',
      'https://other.example.org/page#top',
      `${AUTO_LOGIN}&next=%2Fcart`,
      'https://unlinked.example.net/x',
    ]);
    // The same destination twice is one link; mailto and herald's own links are left alone.
    expect(clicked(t.html).map((c) => c.index)).toEqual([0, 1, 2, 0]);
    expect(new Set(clicked(t.html).map((c) => c.set))).toEqual(new Set([t.linkSet!.hash]));
    // One token, signed once, serves all of the message's links: each link is it and the link's index.
    const paths = [...t.html.matchAll(/https:\/\/t\.example\.com\/c\/([^"'/]+)\/(\d+)["']/g)];
    expect(paths.map((m) => m[2])).toEqual(['0', '1', '2', '0']);
    expect(new Set(paths.map((m) => m[1])).size).toBe(1);
    expect(t.html).toContain('href="mailto:care@shop.example.com"');
    expect(t.html).toContain('href="https://t.example.com/u/tok"');
    // The text part's addresses lead through the same links.
    expect(t.text).not.toContain('https://shop.example.com/new');
    expect(t.text).toContain('Unsubscribe: https://t.example.com/u/tok');
    expect(t.text).toMatch(/^New: https:\/\/t\.example\.com\/c\/\S+$/m);
  });

  it('tracks only links to the site’s domains: one elsewhere came from a token’s value and stays as written', () => {
    const off = ['https://evil.example/login', 'https://shop.example.com@evil.example/', 'https://evilshop.example.com/', 'https://evil.example/?https://shop.example.com/'];
    const t = trackMessage(
      {
        html: `<body>${off.map((u) => `<a href="${u}">x</a>`).join('')}<a href="https://www.shop.example.com/sale">sale</a></body>`,
        text: `${off.join('\n')}\nSale: https://www.shop.example.com/sale`,
      },
      { ...base, hosts: ['shop.example.com'] },
    );
    expect(t.linkSet!.urls).toEqual(['https://www.shop.example.com/sale']);
    for (const u of off) {
      expect(t.html).toContain(`href="${u}"`);
      expect(t.text).toContain(u);
    }
    expect(t.text).toMatch(/^Sale: https:\/\/t\.example\.com\/c\/\S+$/m);
  });

  it('adds the open pixel before </body>, naming the message', () => {
    const t = trackMessage({ html, text }, base);
    const m = /<img src="https:\/\/t\.example\.com\/o\/([^"]+)"[^>]*\/><\/body>/.exec(t.html);
    expect(readTrackingToken(m![1]!, SECRET)).toEqual({ ok: true, link: { kind: 'open', message: 42 } });
  });

  it('puts the pixel before the last </body> wherever the links are, and at the end of HTML without one', () => {
    const pixelled = (h: string) => trackMessage({ html: h, text: '' }, base).html.replace(/<img src="https:\/\/t\.example\.com\/o\/[^"]+"[^>]*\/>/, '[pixel]').replace(/https:\/\/t\.example\.com\/c\/[^"]+/g, 'L');
    expect(pixelled('<body><a href="https://shop.example.com/">a</a><p>x</p></body></html>')).toBe('<body><a href="L">a</a><p>x</p>[pixel]</body></html>');
    // An anchor after </body> (odd, but mail clients show it): the pixel still goes before </body>.
    expect(pixelled('<body><p>x</p></body><a href="https://shop.example.com/">a</a>')).toBe('<body><p>x</p>[pixel]</body><a href="L">a</a>');
    expect(pixelled('<p>no body</p><a href="https://shop.example.com/">a</a>')).toBe('<p>no body</p><a href="L">a</a>[pixel]');
    expect(pixelled('<body><p>no links</p></body>')).toBe('<body><p>no links</p>[pixel]</body>');
  });

  it('adds UTM parameters to the shop’s own links only, keeping those a link has', () => {
    const t = trackMessage(
      { html: '<a href="https://shop.example.com/x?utm_source=keep">a</a><a href="https://shop.example.com/y#frag">b</a><a href="https://other.example.org/z">c</a>', text: '' },
      { ...base, utm: { utm_source: 'herald', utm_campaign: 'winback' } },
    );
    expect(t.linkSet!.urls).toEqual([
      'https://shop.example.com/x?utm_source=keep&utm_campaign=winback',
      'https://shop.example.com/y?utm_source=herald&utm_campaign=winback#frag',
      'https://other.example.org/z',
    ]);
  });

  it('reads hrefs written by hand: upper case, spaced, after a data-href, and leaves an anchor without one alone', () => {
    const t = trackMessage(
      { html: '<A HREF="https://shop.example.com/a">a</A><a data-href="x" href = \'https://shop.example.com/b\'>b</a><a name="top">t</a><abbr title="https://x">y</abbr>', text: '' },
      base,
    );
    expect(t.linkSet!.urls).toEqual(['https://shop.example.com/a', 'https://shop.example.com/b']);
    expect(t.html).toContain('data-href="x"');
    expect(t.html).toContain('<abbr title="https://x">');
    expect(t.html.match(/https:\/\/t\.example\.com\/c\//g)).toHaveLength(2);
  });

  it('leaves a message alone when tracking is off', () => {
    const t = trackMessage({ html, text }, { ...base, opens: false, clicks: false });
    expect(t).toEqual({ html, text });
  });

  it('gives two recipients with the same links one set, whatever their auto-login tokens', () => {
    const a = trackMessage({ html: '<a href="https://shop.example.com/auto-login?token=AAA">x</a>', text: '' }, { ...base, autoLogin: 'https://shop.example.com/auto-login?token=AAA' });
    const b = trackMessage({ html: '<a href="https://shop.example.com/auto-login?token=BBB">x</a>', text: '' }, { ...base, ledgerId: 43, autoLogin: 'https://shop.example.com/auto-login?token=BBB' });
    expect(a.linkSet).toEqual(b.linkSet);
    expect(a.linkSet!.urls).toEqual([AUTO_LOGIN]);
  });
});

describe('anchors in capitals', () => {
  it('are found among lower-case ones in the order they come, and nothing else that holds an "A"', () => {
    const u = (n: number) => `https://shop.example.com/p/${n}`;
    const html = `<p>A</p><a href="${u(1)}">1</a> xA <A href="${u(2)}">2</A><Abbr title="${u(9)}">A</Abbr><a\nhref="${u(3)}">3</a><A\thref='${u(4)}'>4</A><A>no href</A>`;
    const t = trackMessage({ html, text: '' }, base);
    expect(t.linkSet!.urls).toEqual([u(1), u(2), u(3), u(4)]);
    expect(t.html).not.toContain(u(1));
    expect(t.html).toContain(u(9));
  });
});

describe('what a link set keeps', () => {
  it("keeps no message's HTML alive: the set is held until the message's reply is recorded, hundreds of messages at a time", () => {
    // A link cut out of the rendered HTML is, to V8, a view into the whole 50 KB text.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const filler = '<p>Winter boots, €189, made to last.</p>'.repeat(1200); // ~48,000 characters, two bytes each
    const sets: unknown[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200; i++) {
      const html = `<html><body>${filler}<a href="https://shop.example.com/products/boot-${i}?colour=black">Boots</a></body></html>`;
      sets.push(trackMessage({ html, text: `Boots [https://shop.example.com/products/boot-${i}?colour=black]` }, { ...base, ledgerId: i + 1 }).linkSet);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(sets).toHaveLength(200);
    // Kept, the 200 texts would be ~19 MB; the sets themselves are a few hundred KB.
    expect(grown).toBeLessThan(4_000_000);
  });
});
