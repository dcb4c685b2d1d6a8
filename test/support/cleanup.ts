import { afterEach } from 'vitest';

/**
 * Registers undo steps that run after each test, last first: an SMTP sink
 * closes only after the transport that holds connections to it.
 */
export function useCleanups(): (...steps: (() => Promise<void> | void)[]) => void {
  const steps: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of steps.splice(0).reverse()) await f();
  });
  return (...more) => void steps.push(...more);
}
