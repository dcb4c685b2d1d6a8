import Fastify from 'fastify';
import type { Db } from '../../src/db/db.js';
import { webhookRoutes } from '../../src/http/webhooks.js';
import { silentLog } from '../../src/log.js';
import type { Project } from '../../src/workspace/model.js';
import { FIXTURE_SECRET } from '../events/ledger.js';

/** The webhook plugin served as the tracking server registers it: under /webhooks, on a real port of 127.0.0.1. */
export async function webhookServer(db: Db, project: Project): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify();
  await app.register(async (scope) => webhookRoutes(scope, { db, project, secrets: [FIXTURE_SECRET], log: silentLog }), { prefix: '/webhooks' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/webhooks`, close: () => app.close() };
}

/** What the feedback wrote: nothing, after a refused request. */
export async function written(db: Db): Promise<{ events: number; suppressions: number }> {
  const [r] = await db.query<{ events: number; suppressions: number }>(
    'SELECT (SELECT count(*)::int FROM herald.message_events) AS events, (SELECT count(*)::int FROM herald.suppressions) AS suppressions',
  );
  return r!;
}
