import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';

/**
 * The event that started the workflow run, as GitHub Actions writes it to
 * the file GITHUB_EVENT_PATH names: for a pull request, its number and base
 * branch.
 */
interface PullRequestEvent {
  pull_request?: { number?: unknown; base?: { ref?: unknown } };
}

/** The event payload, or undefined when there is none or it cannot be read. */
export function readEvent(env: Record<string, string | undefined>): PullRequestEvent | undefined {
  if (!env.GITHUB_EVENT_PATH) return undefined;
  try {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as unknown;
    return event && typeof event === 'object' ? (event as PullRequestEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** The pull request's base branch: from the payload, else GITHUB_BASE_REF. */
export function baseBranch(env: Record<string, string | undefined>): string | undefined {
  const ref = readEvent(env)?.pull_request?.base?.ref;
  if (typeof ref === 'string' && ref) return ref;
  return env.GITHUB_BASE_REF || undefined;
}

/** The number of the pull request the run is for, or a UserError saying to pass it. */
export function eventPullRequest(env: Record<string, string | undefined>): number {
  const n = readEvent(env)?.pull_request?.number;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n > 0) return n;
  throw new UserError(
    env.GITHUB_EVENT_PATH ? `the event at GITHUB_EVENT_PATH (${env.GITHUB_EVENT_PATH}) is not a pull request's` : 'GITHUB_EVENT_PATH is not set, so there is no pull request to comment on',
    'pass --pr <number>, or run the step on a pull_request event',
  );
}
