import { webUrl } from '../ci/markdown.js';
import { UserError } from '../errors.js';

/**
 * The option values commands share, parsed in one place. Each parser takes
 * the text commander hands over and the flag it came from, and returns the
 * value or throws a UserError naming that flag, the value as given and what
 * would do. Commands never import each other: what they share lives here.
 */

/** The value as typed, quoted, so an empty or odd one is visible in the message. */
const shown = (text: string) => JSON.stringify(text);

/** --workers: workers in one process. */
export function workerCount(text: string, flag = '--workers'): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 64)) throw new UserError(`${flag} ${shown(text)} is not a number of workers`, `give a whole number from 1 to 64, for example ${flag} 4`);
  return n;
}

/** --batch: messages a worker claims at a time (default: the worker's, src/ledger/worker.ts). */
export function batchSize(text: string | undefined, flag = '--batch'): { batchSize?: number } {
  if (text === undefined) return {};
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 10_000)) throw new UserError(`${flag} ${shown(text)} is not a batch size`, `give a whole number of messages from 1 to 10000, for example ${flag} 100`);
  return { batchSize: n };
}

/**
 * A wait in seconds (--idle, --lock-timeout): 30, 30s, 1.5s or 2m. Never 0,
 * which PostgreSQL's lock_timeout reads as "wait forever" and an idle loop as
 * "never wait"; at most a day, beyond which a Node timer fires at once.
 */
export function seconds(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text);
  const n = m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
  if (!(n > 0 && n <= 86_400)) throw new UserError(`${flag} ${shown(text)} is not a number of seconds`, 'write it as 30, 30s or 2m (more than 0, at most a day)');
  return n;
}

/** A budget (--budget): 90s, 8m or 1h, in milliseconds. */
export function duration(text: string, flag: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  const ms = m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'] : NaN;
  if (!(ms > 0)) throw new UserError(`${flag} ${shown(text)} is not a duration`, 'write it as 90s, 8m or 1h (more than 0)');
  return ms;
}

/** A count such as --customers or --seed. */
export function positiveInt(text: string, flag: string, example = 1000): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) throw new UserError(`${flag} ${shown(text)} is not a positive whole number`, `for example ${flag} ${example}`);
  return n;
}

/** --port: 0 asks the system for any free port. */
export function port(text: string, flag = '--port'): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new UserError(`${flag} ${shown(text)} is not a port number`, `give a number from 1 to 65535, for example ${flag} 4400, or 0 for any free port`);
  return n;
}

/** --customer: the shop's numeric customer id. */
export function customerId(text: string, flag = '--customer'): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new UserError(`${flag} ${shown(text)} is not a customer id`, `give the shop's numeric customer id, for example ${flag} 42`);
  return n;
}

export type OutputFormat = 'text' | 'json' | 'markdown';

/** --format text|json|markdown; --json is --format json. */
export function outputFormat(opts: { format?: string; json?: boolean }): OutputFormat {
  const format = opts.format ?? (opts.json ? 'json' : 'text');
  if (format !== 'text' && format !== 'json' && format !== 'markdown') throw new UserError(`--format ${shown(format)} is not a format`, 'give --format text, json or markdown');
  if (opts.json && format !== 'json') throw new UserError(`--json and --format ${format} ask for two formats`, 'give one of them');
  return format;
}

/** --artifact-url: where CI uploaded the artifact, for links in a comment; http(s) only. */
export function artifactUrl(text: string, flag = '--artifact-url'): string {
  if (webUrl(text) === undefined) throw new UserError(`${flag} ${shown(text)} is not an http(s) URL`, `for example ${flag} https://github.com/OWNER/REPO/actions/runs/RUN/artifacts/ID`);
  return text;
}

/** A deployed object named as kind/name (history, state show). */
export function objectRef(ref: string): [kind: string, name: string] {
  const m = /^(project|segment|list|template|campaign|trigger)\/([a-z0-9][a-z0-9_-]*)$/.exec(ref);
  if (!m) throw new UserError(`${shown(ref)} is not kind/name`, 'for example campaign/winback, segment/lapsed or template/newsletter');
  return [m[1]!, m[2]!];
}

/**
 * `--now` (and --from, --to): an ISO date (midnight UTC) or a time with Z or
 * an offset; a time without one would depend on this machine's zone.
 */
export function parseNow(text: string, flag = '--now'): Date {
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/;
  const when = new Date(text);
  // Date parses 2026-02-30 as March 2: the day must survive the round trip.
  const day = text.slice(0, 10);
  if (!iso.test(text) || Number.isNaN(when.getTime()) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) {
    throw new UserError(`${flag} ${shown(text)} is not an ISO date or time`, 'write it as 2026-11-20 or 2026-11-20T12:00:00Z (a time needs Z or an offset such as +01:00)');
  }
  return when;
}

/**
 * The clock of a command run with `--now T`: it starts at T and moves on
 * with real time, so leases and timeouts still behave; without --now, the
 * real clock. Every command that reckons time takes it, so a whole timeline
 * can be run (and tested, and demonstrated) in minutes.
 */
export function clockFrom(now: string | undefined): () => Date {
  if (now === undefined) return () => new Date();
  const offset = parseNow(now).getTime() - Date.now();
  return () => new Date(Date.now() + offset);
}
