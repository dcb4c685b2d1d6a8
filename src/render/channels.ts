import type { ChannelName, Rendered } from '../channels/channel.js';
import { createRenderer, type MessageExtras, type MessageSource, type Recipient, type Renderer } from './message.js';
import { renderPush } from './push.js';
import { renderSms, type ChannelRenderOptions } from './sms.js';

/**
 * One renderer for every channel: email through createRenderer (MJML, the
 * pixel, click tracking, a return path), SMS and push through renderSms and
 * renderPush, all from the same token context (messageContext), so what a
 * campaign says is the same on each channel.
 */
export interface ChannelRenderer extends Renderer {
  /** The message a ledger row of this channel sends (see Renderer.render for the ledger id). */
  on(channel: ChannelName, source: MessageSource, r: Recipient, extras: MessageExtras, ledgerId?: number): Promise<Rendered>;
}

export function createChannelRenderer(o: ChannelRenderOptions): ChannelRenderer {
  const email = createRenderer(o);
  return {
    render: email.render,
    async on(channel, source, r, extras, ledgerId) {
      if (channel === 'sms') return renderSms(o, source, r, extras, ledgerId);
      if (channel === 'push') return renderPush(o, source, r, extras, ledgerId);
      return email.render(source, r, extras, ledgerId);
    },
  };
}
