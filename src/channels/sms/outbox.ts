import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SmsProvider } from './provider.js';
import { replaceFile } from '../../workspace/files.js';
import { outboxFolder } from '../outbox.js';

/**
 * `sms.provider: outbox`: every SMS is written to a file in the outbox
 * (`.herald/outbox/sms/<id>.txt`, To, From and the text), like email without
 * HERALD_SMTP_URL: for the demo, for trying a campaign out, and for tests.
 * Nothing leaves the machine.
 */
export function outboxSmsProvider(dir: string): SmsProvider {
  return {
    async send(m) {
      const id = `outbox-${randomBytes(8).toString('hex')}`;
      const folder = outboxFolder(dir, 'sms');
      const file = join(folder, `${id}.txt`);
      replaceFile(file, `To: ${m.to}\nFrom: ${m.from}\n\n${m.text}\n`);
      return { id, response: `written to ${file}` };
    },
  };
}
