import mjml2html from 'mjml';
import { MJML_OPTIONS } from './mjml-options.js';

/**
 * One MJML compile: in a worker thread (piscina) when cold validation spreads
 * over the cores, in-process (imported on first use) otherwise.
 */
export default async function compile(source: string): Promise<{ html: string; errors: { line: number; message: string; tagName: string }[] }> {
  const r = await mjml2html(source, MJML_OPTIONS);
  return { html: r.html, errors: r.errors.map((e) => ({ line: e.line, message: e.message, tagName: e.tagName })) };
}
