import { ChannelFailure, renderedFor, type Channel } from '../channel.js';
import { classifyFailure, type SmtpFailure } from './classify.js';
import { composeRendered } from './compose.js';
import type { DkimKey } from './dkim.js';
import type { Transport } from './transport.js';

/**
 * The email channel: composes the rendered message (MIME, List-Unsubscribe,
 * the Message-ID `<source>.<ledger id>.<tag>@<sender's domain>`, the tag a MAC of the id), signs it with the
 * site's DKIM key, hands it to the transport (SMTP, or the outbox: a folder
 * per campaign, `triggers/<name>` per trigger, so the two never mix), and
 * reads a failure as classify.ts does.
 */
export function emailChannel(transport: Transport, dkim: ReadonlyMap<string, DkimKey>): Channel {
  return {
    name: 'email',
    send(o) {
      const rendered = renderedFor('email', o.rendered);
      const message = composeRendered(rendered, { to: o.address, id: `${o.source.name}.${o.ledgerId}${rendered.messageTag ? `.${rendered.messageTag}` : ''}` });
      const key = dkim.get(o.site);
      const sent = transport.send(key ? Object.assign({}, message, { dkim: key }) : message, { source: o.source.kind === 'campaign' ? o.source.name : `triggers/${o.source.name}`, ledgerId: o.ledgerId }).then(
        (r) => r.response,
        (err: unknown) => {
          throw new ChannelFailure(classifyFailure(err as SmtpFailure));
        },
      );
      return { messageId: message.messageId, sent };
    },
  };
}
