import type { Queryable } from '../db/db.js';
import type { Project } from '../workspace/model.js';
import type { Channel, ChannelName } from './channel.js';
import { dkimKeys } from './email/dkim.js';
import { emailChannel } from './email/channel.js';
import type { Transport } from './email/transport.js';
import { pushChannel, pushSenders } from './push/channel.js';
import { markGone } from './push/subscriptions.js';
import { smsChannel, smsChannelFor } from './sms/channel.js';
import { outboxSmsProvider } from './sms/outbox.js';
import { outboxPushSenders } from './push/outbox.js';
import { UserError } from '../errors.js';

/**
 * The channels a worker sends through, made once per project and channel:
 * email over the given transport (SMTP or the outbox) with the project's
 * DKIM keys; SMS through herald.yaml's `sms` provider; push through its
 * `push` services, marking in `db` the devices a service says are gone.
 * A channel whose configuration or secret is missing is a UserError when a
 * row first needs it (validate says so first: a source on a channel needs
 * its block in herald.yaml).
 */
export function channelsOver(transport: Transport, db?: Queryable): (name: ChannelName, project: Project) => Channel {
  const made = new WeakMap<Project, Map<ChannelName, Channel>>();
  return (name, project) => {
    let mine = made.get(project);
    if (!mine) made.set(project, (mine = new Map()));
    let c = mine.get(name);
    if (!c) mine.set(name, (c = make(name, project)));
    return c;
  };

  /** SMS and push go to the outbox only beside email's: a run that sends email for real must not quietly keep its SMS. */
  function outbox(setting: string): string {
    if (transport.outbox) return transport.outbox;
    throw new UserError(`herald.yaml's ${setting} writes to the outbox, but email goes to ${transport.description}`, 'configure a real SMS provider or push service, or unset HERALD_SMTP_URL to write everything to the outbox');
  }

  function make(name: ChannelName, project: Project): Channel {
    switch (name) {
      case 'email':
        return emailChannel(transport, dkimKeys(project));
      case 'sms':
        if (project.sms?.provider === 'outbox') return smsChannel({ provider: outboxSmsProvider(outbox('sms.provider: outbox')), from: project.sms.from });
        return smsChannelFor(project.sms, project.tracking.base_url);
      case 'push':
        return pushChannel(project.push?.outbox ? outboxPushSenders(outbox('push.outbox')) : pushSenders(project.push), (gone, status) => (db ? markGone(db, gone, status) : Promise.resolve()));
    }
  }
}
