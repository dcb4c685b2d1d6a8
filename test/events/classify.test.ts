import { describe, expect, it } from 'vitest';
import { classify } from '../../src/events/classify.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const APPLE_MAIL = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const OUTLOOK = 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const YAHOO_PROXY = 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html';

describe('classify', () => {
  it('takes mail clients and browsers for people', () => {
    for (const ua of [CHROME, APPLE_MAIL, OUTLOOK]) {
      expect(classify({ kind: 'open', method: 'GET', userAgent: ua })).toEqual({ class: 'human' });
      expect(classify({ kind: 'click', method: 'GET', userAgent: ua })).toEqual({ class: 'human' });
    }
  });

  it("takes Gmail's and Yahoo's image proxies for people opening (isbot lists them)", () => {
    for (const ua of [GMAIL_PROXY, YAHOO_PROXY]) expect(classify({ kind: 'open', method: 'GET', userAgent: ua })).toEqual({ class: 'human' });
    // They fetch images, never links: a click that claims to be one is a scanner's.
    expect(classify({ kind: 'click', method: 'GET', userAgent: GMAIL_PROXY }).class).toBe('scanner');
  });

  it("takes the bare `Mozilla/5.0` of Apple's MPP proxies for mpp on an open, for a scanner on a click", () => {
    expect(classify({ kind: 'open', method: 'GET', userAgent: 'Mozilla/5.0' })).toEqual({ class: 'mpp', by: 'mpp-user-agent' });
    expect(classify({ kind: 'click', method: 'GET', userAgent: 'Mozilla/5.0' })).toEqual({ class: 'scanner', by: 'bare-user-agent' });
  });

  it('takes bots, HEAD requests, prefetches and requests without a user agent for scanners', () => {
    expect(classify({ kind: 'click', method: 'GET', userAgent: 'Barracuda Sentinel (EE)' })).toEqual({ class: 'scanner', by: 'isbot' });
    expect(classify({ kind: 'click', method: 'GET', userAgent: 'python-requests/2.31' })).toEqual({ class: 'scanner', by: 'isbot' });
    expect(classify({ kind: 'click', method: 'HEAD', userAgent: CHROME })).toEqual({ class: 'scanner', by: 'head' });
    expect(classify({ kind: 'click', method: 'GET', userAgent: CHROME, purpose: 'prefetch;anonymous-client-ip' })).toEqual({ class: 'scanner', by: 'prefetch' });
    expect(classify({ kind: 'open', method: 'GET', userAgent: undefined })).toEqual({ class: 'scanner', by: 'no-user-agent' });
    expect(classify({ kind: 'open', method: 'GET', userAgent: '  ' })).toEqual({ class: 'scanner', by: 'no-user-agent' });
  });
});
