import { join } from 'node:path';
import type { PushSenders } from './channel.js';
import type { Attempt } from './attempt.js';
import { replaceFile } from '../../workspace/files.js';
import { outboxFolder } from '../outbox.js';

/**
 * `push.outbox: true`: every notification is written to the outbox instead
 * of a push service (`.herald/outbox/push/<subscription id>-<n>.json`, the
 * payload and the device), for the demo and for trying a campaign out.
 * Nothing leaves the machine.
 */
export function outboxPushSenders(dir: string): PushSenders {
  let n = 0;
  const write = (id: number, kind: string, payload: unknown): Attempt => {
    const folder = outboxFolder(dir, 'push');
    const file = join(folder, `${id}-${++n}.json`);
    replaceFile(file, `${JSON.stringify({ subscription: id, kind, payload }, null, 2)}\n`);
    return { status: 'accepted', reply: `#${id} ${kind}: written to ${file}` };
  };
  return {
    webpush: async (s, payload) => write(s.id, 'webpush', JSON.parse(payload) as unknown),
    fcm: async (s, n) => write(s.id, 'fcm', { title: n.title, body: n.body, url: n.url, icon: n.icon, image: n.image }),
  };
}
