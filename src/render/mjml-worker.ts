import mjml2html from 'mjml';

/** Runs in a worker thread: one MJML compile, so cold validation uses every core. */
export default async function compile(source: string): Promise<{ html: string; errors: { line: number; message: string; tagName: string }[] }> {
  const r = await mjml2html(source, { validationLevel: 'soft', keepComments: false });
  return { html: r.html, errors: r.errors.map((e) => ({ line: e.line, message: e.message, tagName: e.tagName })) };
}
