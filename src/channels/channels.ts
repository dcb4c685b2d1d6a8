import type { Queryable } from '../db/db.js';
import type { Project } from '../workspace/model.js';
import type { Channel, ChannelName } from './channel.js';
import { dkimKeys } from './email/dkim.js';
import { emailChannel } from './email/channel.js';
import type { Transport } from './email/transport.js';
import { pushChannel, pushSenders } from './push/channel.js';
import { markGone } from './push/subscriptions.js';
import { smsChannelFor } from './sms/channel.js';

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

  function make(name: ChannelName, project: Project): Channel {
    switch (name) {
      case 'email':
        return emailChannel(transport, dkimKeys(project));
      case 'sms':
        return smsChannelFor(project.sms, project.tracking.base_url);
      case 'push':
        return pushChannel(pushSenders(project.push), (gone, status) => (db ? markGone(db, gone, status) : Promise.resolve()));
    }
  }
}
