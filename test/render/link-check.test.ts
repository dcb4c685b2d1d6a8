import { describe, expect, it } from 'vitest';
import { linksIn, sitesRefusing } from '../../src/render/link-check.js';
import { compileMjmlResult } from '../../src/render/mjml.js';

const SITES = [{ site: 'main', hosts: ['shop.example.com'] }];
const outside = (html: string) => [...new Set(linksIn(html).filter((l) => sitesRefusing(l.url, SITES).length > 0).map((l) => l.url))];

describe('the link-domain check', () => {
  it('sees links and images', () => {
    expect(outside('<a href="https://evil.example/a">x</a><img src="https://shop.example.com/i.png" alt=""><img alt="" src=\'https://cdn.evil.example/i.png\'>')).toEqual([
      'https://evil.example/a',
      'https://cdn.evil.example/i.png',
    ]);
  });

  it('sees stylesheets, CSS imports and url() in style elements and attributes, protocol-relative ones too', () => {
    const html = [
      '<head><link href="https://fonts.googleapis.com/css?family=Ubuntu" rel="stylesheet" type="text/css">',
      '<link rel="stylesheet" href="https://shop.example.com/ok.css">',
      '<style type="text/css">@import url(https://fonts.evil.example/a.css);',
      '@import "//fonts.evil.example/b.css"; @import \'https://shop.example.com/ok2.css\';',
      '.x { background: url( "https://img.evil.example/bg.png" ) } .y { background: url(https://shop.example.com/bg.png) }</style></head>',
      '<body><div style="background-image:url(\'//img.evil.example/inline.png\')">x</div><p>CSS looks like url(https://text.example/not-css)</p></body>',
    ].join('\n');
    expect(outside(html)).toEqual([
      'https://fonts.googleapis.com/css?family=Ubuntu',
      'https://fonts.evil.example/a.css',
      'https://fonts.evil.example/b.css',
      'https://img.evil.example/bg.png',
      'https://img.evil.example/inline.png',
    ]);
  });

  it('finds the font a compiled message links, on another domain', async () => {
    const { html } = await compileMjmlResult('<mjml><mj-head><mj-font name="Raleway" href="https://fonts.googleapis.com/css?family=Raleway" /></mj-head><mj-body><mj-section><mj-column><mj-text font-family="Raleway">Hi</mj-text></mj-column></mj-section></mj-body></mjml>');
    expect(outside(html)).toEqual(['https://fonts.googleapis.com/css?family=Raleway']);
  });
});
