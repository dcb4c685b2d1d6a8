import type { RenderedMessage } from '../render/message.js';

/**
 * A channel: how a rendered message reaches its recipient (email today; SMS
 * and push later). The ledger's worker knows nothing else of it: it hands a
 * message over and gets back the provider's reply or a verdict on the
 * failure, which it turns into the row's next state (sent, a retry with
 * backoff until the message's max age, bounced, failed, unknown). Each
 * ledger row names its channel (herald.messages.channel).
 */
export type ChannelName = 'email';

/** One message for a channel: the ledger row it belongs to, where it goes, and what was rendered. */
export interface Outgoing {
  ledgerId: number;
  /** The campaign or trigger it is sent for. */
  source: { kind: 'campaign' | 'trigger'; name: string };
  /** The recipient's address on this channel. */
  address: string;
  site: string;
  rendered: RenderedMessage;
}

/** What a failed hand-over means for the row. */
export type Verdict =
  | { status: 'retry'; response: string; policy: boolean }
  | { status: 'unknown' | 'bounced' | 'failed'; response: string };

export interface Handed {
  /** The message's id, as recorded in the ledger (the Message-ID of an email). */
  messageId: string;
  /** Resolves with the provider's reply when accepted; rejects with a ChannelFailure otherwise. */
  sent: Promise<string>;
}

export class ChannelFailure extends Error {
  constructor(readonly verdict: Verdict) {
    super(verdict.response);
  }
}

export interface Channel {
  readonly name: ChannelName;
  /** Prepares one message and hands it over; the id is known at once, the reply when it comes. */
  send(o: Outgoing): Handed;
}
