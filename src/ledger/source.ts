import { durationMs } from '../audience/duration.js';
import type { Project } from '../workspace/model.js';
import type { ChannelName } from '../channels/channel.js';

/**
 * Where a ledger row comes from: a campaign (one message per audience
 * member) or a trigger (one per occurrence of its event). The ledger, the
 * worker, the throttle and the breaker treat both alike; only the source's
 * own module (src/campaigns/, src/triggers/) knows what it is.
 */
export type SourceKind = 'campaign' | 'trigger';

export interface SourceRef {
  kind: SourceKind;
  name: string;
}

export function sourceLabel(s: SourceRef): string {
  return `${s.kind} ${s.name}`;
}

/** The status a source sends in, and the one it has when its file says nothing. */
export const SENDING_STATUS: Record<SourceKind, { sends: string; default: string }> = {
  campaign: { sends: 'ready', default: 'draft' },
  trigger: { sends: 'active', default: 'paused' },
};

/**
 * The contact policy of one source, resolved from herald.yaml's defaults and
 * the source's own overrides: what the claim checks for every row.
 */
export interface ContactPolicy {
  /** At most `max` messages sent to one recipient within `perSeconds`, from any source. */
  cap?: { max: number; perSeconds: number; whenCapped: 'skip' | 'defer' };
  /** A daily window, in the recipient's local time, in which nothing is sent: email's (and push's). */
  quiet?: QuietHours;
  /** The windows per channel, as the claim applies them: SMS has its own, daytime only by default. */
  quietByChannel?: Partial<Record<ChannelName, QuietHours>>;
  /** site id → IANA time zone: where "local time" is. */
  timezones: Record<string, string>;
}

export interface QuietHours {
  start: string;
  end: string;
}

/** SMS wakes people: unless herald.yaml's sms.quiet_hours says otherwise, one goes out by day only. */
export const SMS_QUIET_HOURS: QuietHours = { start: '20:00', end: '09:00' };

interface PolicySettings {
  quiet_hours?: { start: string; end: string } | false;
  frequency_cap?: { max: number; per: string; when_capped?: 'skip' | 'defer' } | false;
}

/**
 * contactPolicy: the source's settings over the project's defaults; `false`
 * exempts it (a transactional message). Over the cap, a campaign's message is
 * skipped and a trigger's deferred, unless the cap says otherwise: a
 * newsletter a week late is noise, a cart reminder a day late still helps.
 */
export function contactPolicy(kind: SourceKind, own: PolicySettings, project: Project): ContactPolicy {
  const defaults = project.defaults ?? {};
  const timezones = Object.fromEntries(project.sites.map((s) => [s.id, s.timezone ?? defaults.timezone ?? 'UTC']));
  const quiet = own.quiet_hours === false ? undefined : (own.quiet_hours ?? defaults.quiet_hours);
  const cap = own.frequency_cap === false ? undefined : (own.frequency_cap ?? defaults.frequency_cap);
  const sms = own.quiet_hours === false ? undefined : (own.quiet_hours ?? (project as { sms?: { quiet_hours?: QuietHours } }).sms?.quiet_hours ?? SMS_QUIET_HOURS);
  const window = quiet ? { start: quiet.start, end: quiet.end } : undefined;
  return {
    timezones,
    ...(window ? { quiet: window } : {}),
    quietByChannel: { ...(window ? { email: window, push: window } : {}), ...(sms ? { sms: { start: sms.start, end: sms.end } } : {}) },
    ...(cap
      ? { cap: { max: cap.max, perSeconds: durationMs(cap.per) / 1000, whenCapped: cap.when_capped ?? (kind === 'campaign' ? 'skip' : 'defer') } }
      : {}),
  };
}
