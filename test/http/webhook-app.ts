import type { Db } from '../../src/db/db.js';
import { createTrackingServer, listen } from '../../src/http/server.js';
import { silentLog } from '../../src/log.js';
import type { Project } from '../../src/workspace/model.js';
import { FIXTURE_SECRET } from '../events/ledger.js';

/** The tracking server (`herald serve`), which mounts the webhooks under /webhooks, on a real port of 127.0.0.1. */
export async function webhookServer(db: Db, project: Project): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await createTrackingServer({ db, project, secrets: [FIXTURE_SECRET], log: silentLog });
  const base = await listen(server, { port: 0, host: '127.0.0.1' });
  return { url: `${base}/webhooks`, close: () => server.close() };
}

/** What the feedback wrote: nothing, after a refused request. */
export async function written(db: Db): Promise<{ events: number; suppressions: number }> {
  const [r] = await db.query<{ events: number; suppressions: number }>(
    'SELECT (SELECT count(*)::int FROM herald.message_events) AS events, (SELECT count(*)::int FROM herald.suppressions) AS suppressions',
  );
  return r!;
}
