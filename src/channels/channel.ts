import type { RenderedMessage } from '../render/message.js';
import type { RenderedPush } from '../render/push.js';
import type { RenderedSms } from '../render/sms.js';
import type { PushSubscription } from './push/subscriptions.js';

/**
 * A channel: how a rendered message reaches its recipient (email today; SMS
 * and push later). The ledger's worker knows nothing else of it: it hands a
 * message over and gets back the provider's reply or a verdict on the
 * failure, which it turns into the row's next state (sent, a retry with
 * backoff until the message's max age, bounced, failed, unknown). Each
 * ledger row names its channel (herald.messages.channel).
 */
export type ChannelName = 'email' | 'sms' | 'push';

/** What a channel sends: an email, an SMS or a push notification, as rendered. */
export type Rendered = RenderedMessage | RenderedSms | RenderedPush;

/** The channel a rendered message is for: SMS and push say so; an email is the rest. */
export function renderedChannel(r: Rendered): ChannelName {
  return 'channel' in r ? r.channel : 'email';
}

/** What a channel was given, as the kind it sends; anything else is a bug in the worker's dispatch. */
export function renderedFor<C extends ChannelName>(channel: C, r: Rendered): Extract<Rendered, C extends 'email' ? RenderedMessage : { channel: C }> {
  if (renderedChannel(r) !== channel) throw new Error(`the ${channel} channel was handed a rendered ${renderedChannel(r)} message`);
  return r as Extract<Rendered, C extends 'email' ? RenderedMessage : { channel: C }>;
}

/** One message for a channel: the ledger row it belongs to, where it goes, and what was rendered. */
export interface Outgoing {
  ledgerId: number;
  /** The campaign or trigger it is sent for. */
  source: { kind: 'campaign' | 'trigger'; name: string };
  /** The recipient's address on this channel: an email address, a phone number as the shop stores it, or `customer:<id>` for push. */
  address: string;
  site: string;
  /** The shop customer, when the recipient is one. */
  customerId: number | null;
  /** The customer's country (ISO 3166 alpha-2), the region a phone number without a + is read in. */
  country: string | null;
  rendered: Rendered;
  /** Push: the customer's live subscriptions, loaded for the batch. */
  subscriptions?: PushSubscription[];
}

/** What a failed hand-over means for the row. */
export type Verdict =
  /** retryAfter: how long the provider asked to wait (seconds, its Retry-After), when longer than the backoff. */
  | { status: 'retry'; response: string; policy: boolean; retryAfter?: number }
  | { status: 'unknown' | 'bounced' | 'failed'; response: string };

export interface Handed {
  /** The message's id, as recorded in the ledger (the Message-ID of an email; for an SMS herald's own, until the provider gives its id). */
  messageId: string;
  /**
   * Resolves with the provider's reply when accepted, and with the provider's
   * id for the message when it makes one (an SMS's SID), which the ledger
   * records instead of messageId; rejects with a ChannelFailure otherwise.
   */
  sent: Promise<string | Accepted>;
}

export interface Accepted {
  response: string;
  messageId: string;
}

export class ChannelFailure extends Error {
  constructor(
    readonly verdict: Verdict,
    /** What a bounce suppresses, when it is not the ledger row's address as given: an SMS's number in E.164. */
    readonly address?: string,
  ) {
    super(verdict.response);
  }
}

export interface Channel {
  readonly name: ChannelName;
  /** Prepares one message and hands it over; the id is known at once, the reply when it comes. */
  send(o: Outgoing): Handed;
}
