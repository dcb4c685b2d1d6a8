import type { Project } from '../workspace/model.js';
import type { Channel, ChannelName } from './channel.js';
import { dkimKeys } from './email/dkim.js';
import { emailChannel } from './email/channel.js';
import type { Transport } from './email/transport.js';

/**
 * The channels a worker sends through, over the given email transport (SMTP
 * or the outbox): one per project, made once, with the project's DKIM keys.
 * SMS and push will be added here.
 */
export function channelsOver(transport: Transport): (name: ChannelName, project: Project) => Channel {
  const made = new Map<Project, Channel>();
  return (_name, project) => {
    let c = made.get(project);
    if (!c) made.set(project, (c = emailChannel(transport, dkimKeys(project))));
    return c;
  };
}
