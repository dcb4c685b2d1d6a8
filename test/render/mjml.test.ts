import { describe, expect, it } from 'vitest';
import { compileMjmlResult } from '../../src/render/mjml.js';

const doc = (head: string, body: string) => `<mjml><mj-head>${head}</mj-head><mj-body><mj-section><mj-column>${body}</mj-column></mj-section></mj-body></mjml>`;

describe('MJML compilation', () => {
  it('links no web font a template does not ask for, though MJML\'s own defaults name Ubuntu', async () => {
    // mj-text's default font-family starts with Ubuntu, and these name Google's fonts outright.
    for (const source of [
      doc('', '<mj-text>Hi</mj-text><mj-button href="https://shop.example.com">Go</mj-button>'),
      doc('<mj-attributes><mj-all font-family="Open Sans, Roboto, Lato, Arial" /></mj-attributes>', '<mj-text font-family="Droid Sans">Hi</mj-text>'),
    ]) {
      const { html, errors } = await compileMjmlResult(source);
      expect(errors).toEqual([]);
      expect(html).toContain('Hi');
      expect(html).not.toMatch(/fonts\.googleapis|<link\b|@import/);
    }
  });

  it('links a font the template declares with <mj-font> and uses', async () => {
    const { html } = await compileMjmlResult(doc('<mj-font name="Raleway" href="https://shop.example.com/fonts/raleway.css" />', '<mj-text font-family="Raleway, Arial">Hi</mj-text>'));
    expect(html).toContain('<link href="https://shop.example.com/fonts/raleway.css" rel="stylesheet" type="text/css">');
    expect(html).toContain('@import url(https://shop.example.com/fonts/raleway.css);');
    expect(html).not.toContain('googleapis');
  });
});
