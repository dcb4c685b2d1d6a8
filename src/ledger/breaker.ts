import type { Queryable } from '../db/db.js';
import { pauseByHerald } from '../state/overrides.js';
import type { Project } from '../workspace/model.js';
import { countAttempts } from './runs.js';
import type { SourceRef } from './source.js';

/**
 * The circuit breaker: refusals for policy or authentication (5.7.x) say the
 * receiving servers distrust the sender (DKIM, DMARC, reputation). They come
 * in the SMTP conversation (the worker) or later, in a DSN from a relay that
 * accepted the message first (events/feedback.ts); both count here, in the
 * source's run. Past the threshold (delivery.breaker: at least `min`
 * refusals that are at least `rate` of the attempts) the source is paused,
 * with the reason, as `herald pause` would; `herald resume` continues it
 * once the cause is fixed; one already paused or cancelled stays as it is.
 * Returns the reason when it paused the source now.
 */
export async function countAndTrip(db: Queryable, project: Project, ref: SourceRef, attempts: number, policy: number): Promise<string | undefined> {
  const counts = await countAttempts(db, ref, attempts, policy);
  if (policy === 0) return undefined;
  const min = project.delivery?.breaker?.min ?? 5;
  const rate = Number((project.delivery?.breaker?.rate ?? '5%').slice(0, -1)) / 100;
  if (counts.policy_refusals < min || counts.policy_refusals < rate * counts.attempts) return undefined;
  const reason = `circuit breaker: ${counts.policy_refusals} of ${counts.attempts} attempts refused for policy or authentication (5.7.x)`;
  return (await pauseByHerald(db, { kind: ref.kind, name: ref.name, reason, action: 'paused by the circuit breaker' })) ? reason : undefined;
}
