/**
 * The hidden first line of herald's PR comments. It finds the sticky comment
 * again (by its prefix) and carries the review fingerprint a merge applies.
 */

/** Environment names as herald.yaml allows them; plan without --env is `default`. */
const ENVIRONMENT = /^[a-z][a-z0-9_-]*$/;
const PLAN_MARKER = /^<!-- herald:plan env=([a-z][a-z0-9_-]*) review=([0-9a-f]{64}) -->$/;

export const PREVIEW_MARKER = '<!-- herald:preview -->';

/** `<!-- herald:plan env=production review=<64 hex> -->` */
export function planMarker(environment: string | null, review: string): string {
  return `${planMarkerPrefix(environment)} review=${review} -->`;
}

/** What finds an environment's plan comment: `<!-- herald:plan env=production`. */
export function planMarkerPrefix(environment: string | null): string {
  const env = environment ?? 'default';
  if (!ENVIRONMENT.test(env)) throw new Error(`environment name ${JSON.stringify(env)} cannot go in a marker`);
  return `<!-- herald:plan env=${env}`;
}

export function isEnvironmentName(name: string): boolean {
  return ENVIRONMENT.test(name);
}

/** The environment and review fingerprint of a plan comment's body, or undefined. */
export function parsePlanMarker(body: string): { environment: string; review: string } | undefined {
  const m = PLAN_MARKER.exec(firstLine(body));
  return m ? { environment: m[1]!, review: m[2]! } : undefined;
}

/**
 * Whether a comment's body opens with `prefix` as a whole: `env=prod` must not
 * find `env=production`'s comment, so what follows the prefix is a space, the
 * end of the comment tag, or the end of the line.
 */
export function hasMarker(body: string, prefix: string): boolean {
  const line = firstLine(body);
  if (!line.startsWith(prefix)) return false;
  const rest = line.slice(prefix.length);
  return rest === '' || /^\s/.test(rest) || rest.startsWith('-->') || prefix.endsWith('-->');
}

/**
 * The marker a body opens with: its first line, when that is an HTML comment.
 * A plan's marker counts up to its environment: its review fingerprint
 * changes with every push, and the comment to update is the environment's.
 */
export function bodyMarker(body: string): string | undefined {
  const line = firstLine(body);
  const plan = parsePlanMarker(line);
  if (plan) return planMarkerPrefix(plan.environment);
  return /^<!--.*-->$/.test(line) ? line : undefined;
}

function firstLine(body: string): string {
  const end = body.search(/\r?\n/);
  return end < 0 ? body : body.slice(0, end);
}
