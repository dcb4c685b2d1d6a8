import { createHash } from 'node:crypto';
import { PLAN_VERSION, type Change, type Plan } from '../../src/plan/plan.js';

/** A plan value as computePlan makes it, for the pure builders' tests. */
export function planValue(over: Partial<Plan> = {}): Plan {
  const changes: Change[] = over.changes ?? [];
  const summary = { create: 0, update: 0, delete: 0, archive: 0, unchanged: 0, refused: 0 };
  for (const c of changes) summary[c.action]++;
  return {
    version: PLAN_VERSION,
    createdAt: '2026-11-20T12:00:00.000Z',
    gitCommit: '0123456789abcdef0123456789abcdef01234567',
    environment: 'production',
    deployedCommit: 'fedcba9876543210fedcba9876543210fedcba98',
    basis: {},
    fingerprint: 'f'.repeat(64),
    review: createHash('sha256').update('review').digest('hex'),
    changes,
    drift: [],
    audiences: [],
    lists: {},
    warnings: [],
    objects: [],
    summary,
    ...over,
  };
}
