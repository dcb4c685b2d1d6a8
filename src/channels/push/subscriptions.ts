/** One device of a customer, from the shop's push_subscriptions (docs/shop-data-contract.md). */
export type PushSubscription =
  | { id: number; kind: 'webpush'; endpoint: string; p256dh: string; auth: string }
  | { id: number; kind: 'fcm'; token: string };
