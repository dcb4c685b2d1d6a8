import type { LinkSet } from '../links/rewrite.js';

/** A push notification for one recipient, rendered from the template's `push.<locale>.yaml`. */
export interface RenderedPush {
  channel: 'push';
  title: string;
  body: string;
  /** Where a tap goes: a tracking click link, so the tap counts as the push's open. */
  url: string | null;
  icon: string | null;
  image: string | null;
  linkSet?: LinkSet;
}
