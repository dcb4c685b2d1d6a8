import type { RenderedPush } from '../../render/push.js';
import { ChannelFailure, renderedFor, type Channel } from '../channel.js';
import type { Attempt } from './attempt.js';
import { fcmSender, type FcmConfig, type FcmOptions, type FcmSend } from './fcm.js';
import { subscriptionAddress, type PushSubscription } from './subscriptions.js';
import { webPushSender, type VapidConfig, type WebPushOptions, type WebPushSend } from './webpush.js';

/**
 * The push channel: one ledger row is one customer (`customer:<id>`), sent
 * to every live subscription the worker loaded for them, web push or FCM by
 * kind, all at once. The message is sent when at least one device took it;
 * subscriptions their service called gone are remembered (markGone) so the
 * next batch leaves them out; when every one was gone it is an address
 * problem; when none took it and one may later, it is retried.
 *
 * A retry goes to every subscription again, but only when none accepted: once
 * one device has the notification, the others' temporary failures are not
 * worth showing it twice on the first.
 */

/** herald.yaml `push`. */
export interface PushConfig {
  vapid?: VapidConfig;
  fcm?: FcmConfig;
}

export interface PushSenders {
  webpush?: WebPushSend;
  fcm?: FcmSend;
}

/** The senders herald.yaml configures; each checks its secret now (a UserError when it is missing or malformed). */
export function pushSenders(config: PushConfig | undefined, opts: { webpush?: WebPushOptions; fcm?: FcmOptions } = {}): PushSenders {
  return {
    ...(config?.vapid ? { webpush: webPushSender(config.vapid, opts.webpush) } : {}),
    ...(config?.fcm ? { fcm: fcmSender(config.fcm, opts.fcm) } : {}),
  };
}

/** Remembers subscriptions as gone: src/channels/push/subscriptions.ts markGone over the worker's database. */
export type MarkGone = (endpointsOrTokens: string[], status: number) => Promise<void>;

/** The JSON a web push carries to the site's service worker, which shows it and opens `url` on a tap. */
export function pushPayload(r: RenderedPush): string {
  return JSON.stringify({ title: r.title, body: r.body, url: r.url, icon: r.icon, image: r.image });
}

export function pushChannel(senders: PushSenders, markGone: MarkGone): Channel {
  const attempt = (s: PushSubscription, r: RenderedPush, payload: string): Promise<Attempt> => {
    if (s.kind === 'webpush') {
      return senders.webpush ? senders.webpush(s, payload) : Promise.resolve({ status: 'failed', reply: `#${s.id} webpush: herald.yaml has no push.vapid` });
    }
    return senders.fcm ? senders.fcm(s, r) : Promise.resolve({ status: 'failed', reply: `#${s.id} fcm: herald.yaml has no push.fcm` });
  };

  async function deliver(subscriptions: PushSubscription[], r: RenderedPush): Promise<string> {
    if (subscriptions.length === 0) throw new ChannelFailure({ status: 'failed', response: 'address: no live push subscription' });
    const payload = pushPayload(r);
    const attempts = await Promise.all(subscriptions.map((s) => attempt(s, r, payload)));
    const replies = attempts.map((a) => a.reply);
    const recorded = await recordGone(subscriptions, attempts);
    if (recorded) replies.push(recorded);
    const count = (status: Attempt['status']) => attempts.filter((a) => a.status === status).length;
    const accepted = count('accepted');
    const summary = `${accepted} of ${subscriptions.length} accepted: ${replies.join('; ')}`;
    if (accepted > 0) return summary;
    if (count('retry') > 0) throw new ChannelFailure({ status: 'retry', response: summary, policy: false });
    if (count('gone') === subscriptions.length) throw new ChannelFailure({ status: 'failed', response: `address: no live push subscription (${replies.join('; ')})` });
    throw new ChannelFailure({ status: 'failed', response: summary });
  }

  /** Records the gone ones, by status; a database error is said in the reply rather than thrown, since the devices' answers stand. */
  async function recordGone(subscriptions: PushSubscription[], attempts: Attempt[]): Promise<string | undefined> {
    const byStatus = new Map<number, string[]>();
    attempts.forEach((a, i) => {
      if (a.status !== 'gone') return;
      const list = byStatus.get(a.code) ?? [];
      list.push(subscriptionAddress(subscriptions[i]!));
      byStatus.set(a.code, list);
    });
    try {
      for (const [status, addresses] of byStatus) await markGone(addresses, status);
      return undefined;
    } catch (err) {
      return `could not record the gone subscriptions: ${(err as Error).message}`;
    }
  }

  return {
    name: 'push',
    send(o) {
      const rendered = renderedFor('push', o.rendered);
      return { messageId: `push.${o.ledgerId}`, sent: deliver(o.subscriptions ?? [], rendered) };
    },
  };
}
