import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { tick } from '../../src/tick/tick.js';
import { tickSummary } from '../../src/cli/tick-summary.js';
import { smtpTransport } from '../../src/channels/email/transport.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { useCleanups } from '../support/cleanup.js';
import { addEvents, addMessages, attributed, deploy, project } from '../support/attribution.js';

/** herald run's tick runs the attribution pass and says how many orders it attributed. */
const cleanup = useCleanups();

describe('attribution in the tick', () => {
  it('attributes new orders at each tick and reports the count in the summary', async () => {
    const db = await createTestDb();
    const sink = await startSmtpSink();
    const transport = smtpTransport(sink.url);
    cleanup(() => db.dispose(), () => sink.close(), () => transport.close());
    await createShop(db, { customers: [{ id: 1, email: 'c1@example.com' }], orders: [{ id: 7, customer_id: 1, total: 42, created_at: '2026-03-02T12:00:00Z' }] });
    await deploy(db, { kind: 'project', name: 'herald', spec: project() });
    const [m] = await addMessages(db, [{ source: 'spring', customer_id: 1, created_at: '2026-03-01T10:00:00Z' }]);
    await addEvents(db, [{ message_id: m!, kind: 'click', at: '2026-03-02T11:00:00Z' }]);

    const r = await tick(db, { transport, log: silentLog, clock: () => new Date('2026-03-03T00:00:00Z') });
    expect(r.attribution).toEqual({ attributed: 1 });
    expect(tickSummary(r, false, false)).toContain('attributed 1 order to messages');
    expect(await attributed(db)).toEqual([{ order_id: '7', message_id: m, value: 42, at: '2026-03-02T12:00:00.000Z' }]);

    const again = await tick(db, { transport, log: silentLog, clock: () => new Date('2026-03-03T01:00:00Z') });
    expect(again.attribution).toEqual({ attributed: 0 });
    expect(tickSummary(again, false, false)).not.toContain('attributed');
  });
});
