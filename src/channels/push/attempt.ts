/**
 * What one push service said about one subscription, as the push channel
 * reads it: accepted; gone (the subscription is dead: web push 404/410, FCM
 * UNREGISTERED), remembered in herald.push_gone; failed for good; or worth
 * another try later. `reply` is for the ledger: it names the subscription by
 * its shop id and the service by host, never the endpoint or token (an
 * endpoint is a capability: whoever has it and the keys can push to it).
 */
export type Attempt =
  | { status: 'accepted'; reply: string }
  | { status: 'gone'; code: number; reply: string }
  | { status: 'failed'; reply: string }
  | { status: 'retry'; reply: string };

/** A service's reply body, cut short and on one line, for the ledger. */
export function replyText(body: string | undefined | null): string {
  const line = (body ?? '').replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}
