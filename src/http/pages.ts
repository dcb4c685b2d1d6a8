/**
 * What the tracking server sends back besides redirects: the pixel and a few
 * small HTML pages. Nothing from a request is ever written into them; the
 * only variable text is a site's name from herald.yaml, escaped.
 */

/** A 1×1 transparent GIF, 43 bytes: the open pixel. */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** No scripts, no outside resources; the form may post back to this server only. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font:inherit;padding:.6rem 1.2rem;cursor:pointer}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** 404: a link that herald did not make, or whose message or destination it no longer knows. */
export const NOT_FOUND_PAGE = page('Link not found', '<h1>Link not found</h1>\n<p>This link is not valid. If you copied it from an email, check that it is complete.</p>');

export const ERROR_PAGE = page('Something went wrong', '<h1>Something went wrong</h1>\n<p>Please try again in a moment.</p>');

/**
 * The unsubscribe confirmation page. Link scanners fetch every URL in a
 * message, so a GET only shows this; the button POSTs back to the same URL
 * (no action attribute: the form posts where it was loaded from), and
 * nothing submits it for the reader.
 */
export function confirmPage(siteName: string | undefined): string {
  const from = siteName ? ` from ${escapeHtml(siteName)}` : '';
  return page(
    'Unsubscribe',
    `<h1>Unsubscribe</h1>
<p>Stop receiving these emails${from}?</p>
<form method="post">
<input type="hidden" name="confirm" value="unsubscribe">
<button type="submit">Unsubscribe</button>
</form>`,
  );
}

export function unsubscribedPage(siteName: string | undefined): string {
  const from = siteName ? ` from ${escapeHtml(siteName)}` : '';
  return page('Unsubscribed', `<h1>You are unsubscribed</h1>\n<p>You will receive no more of these emails${from}.</p>`);
}

export const BAD_REQUEST_PAGE = page('Nothing to do', '<h1>Nothing to do</h1>\n<p>Use the Unsubscribe button on the previous page.</p>');
