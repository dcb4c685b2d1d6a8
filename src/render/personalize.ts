import nunjucks from 'nunjucks';
import { compileMjml } from './mjml.js';
import type { ProductToken } from './products.js';

/**
 * A template made ready for one locale: MJML compiled to HTML once, then every
 * part compiled once by nunjucks. Per recipient only `render` runs.
 */
export interface PreparedTemplate {
  render(ctx: TokenContext): { subject: string; preheader: string; html: string };
}

/** The tokens a campaign message can use. */
export interface TokenContext {
  /** For a list's members, the CSV's extra columns too. */
  customer: { first_name: string | null; last_name: string | null; email: string; city: string | null; [column: string]: string | null };
  greeting: string;
  site: { id: string; name: string; url: string; postal_address: string; currency: string; brand: Record<string, string | number> };
  campaign: { name: string; title: string };
  products: ProductToken[];
  links: { unsubscribe: string; auto_login: string };
}

// HTML is autoescaped: a customer named "<script>" arrives as text. Subject and
// preheader are header and plain text, where escaping would show "&amp;".
const htmlEnv = new nunjucks.Environment(null, { autoescape: true, throwOnUndefined: false });
const textEnv = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });

export interface TemplateParts {
  mjml: string;
  subject: string;
  preheader?: string;
  /** For error messages: where the MJML came from. */
  file: string;
}

export async function prepareTemplate(parts: TemplateParts): Promise<PreparedTemplate> {
  const html = new nunjucks.Template(await compileMjml(parts.mjml, parts.file), htmlEnv, parts.file, true);
  const subject = new nunjucks.Template(parts.subject, textEnv, `${parts.file} (subject)`, true);
  const preheader = new nunjucks.Template(parts.preheader ?? '', textEnv, `${parts.file} (preheader)`, true);
  return {
    render(ctx) {
      const pre = preheader.render(ctx);
      return {
        subject: oneLine(subject.render(ctx)),
        preheader: pre,
        html: html.render({ ...ctx, preheader: pre }),
      };
    },
  };
}

/** Header values never carry line breaks, whatever a token contained. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}
