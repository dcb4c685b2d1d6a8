import { join } from 'node:path';
import { createLog } from '../../log.js';
import { sendCampaign } from '../../send/send.js';
import { transportFromEnv } from '../../send/transport.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

export default async function send([campaign]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const transport = transportFromEnv(join(workspaceDir(opts), '.herald', 'outbox'));
  try {
    const result = await withDb(opts, (db) => sendCampaign(db, { campaign: campaign!, transport, now: new Date(), log: createLog() }));
    if (opts.json) printJson({ campaign, transport: transport.description, ...result });
    else {
      print(`${campaign}: ${result.sent} sent, ${result.failed} failed${result.suppressed ? `, ${result.suppressed} suppressed since the audience was drawn` : ''}${result.completed ? ', campaign completed' : ''} (${transport.description}).`);
      if (result.sent + result.failed === 0) print('Nothing left to send: every recipient already has its ledger entry settled.');
    }
  } finally {
    transport.close();
  }
}
