import { timingSafeEqual } from 'node:crypto';
import { classifyBounce, preciseStatus, type BounceClass } from '../../events/dsn.js';
import type { Feedback, FeedbackEvent, MessageRef, Origin } from '../../events/feedback.js';
import { readReturnPath } from '../../links/tracking.js';
import type { ServerDeps } from '../deps.js';

/**
 * What every ESP webhook does with a request: check its signature (each
 * ESP its own way), then turn its events into Feedback for applyFeedback.
 * A request that fails the check is refused before anything is read from it.
 */
export interface WebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The raw body, as signed. */
  body: Buffer;
}

export type WebhookVerdict =
  | { ok: true; feedback: Feedback[]; note?: string }
  /** 401: no or bad credentials or signature; 403: signed, but not by what herald.yaml trusts; 400: not the ESP's format. */
  | { ok: false; code: 400 | 401 | 403; why: string };

export type WebhookHandler = (req: WebhookRequest, deps: ServerDeps) => Promise<WebhookVerdict>;

export function headerOf(req: WebhookRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Constant-time equality of two strings (different lengths are simply unequal). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The secret in the variable herald.yaml names; undefined when unset (the webhook then refuses everything). */
export function envValue(name: string): string | undefined {
  return process.env[name] || undefined;
}

/** How an ESP names the message: our VERP envelope sender first, then our Message-ID. */
export function espRef(deps: ServerDeps, o: { sender?: unknown; messageId?: unknown; email?: unknown; ledgerId?: unknown }): { ref: MessageRef; why?: string } {
  if (typeof o.sender === 'string' && o.sender) {
    const r = readReturnPath(o.sender, deps.secrets);
    if (r.ok) return { ref: { message: r.message } };
  }
  if (typeof o.messageId === 'string' && o.messageId.trim()) return { ref: { messageId: o.messageId.trim() } };
  const id = typeof o.ledgerId === 'string' ? Number(o.ledgerId) : o.ledgerId;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return { ref: { message: id } };
  if (typeof o.email === 'string' && o.email.includes('@')) return { ref: { email: o.email.trim().toLowerCase() } };
  return { ref: {}, why: 'names no message herald sent: no return path of ours, no Message-ID' };
}

/** An ESP's bounce: its status, or, when it has none, its own word on permanence. */
export function espBounce(o: {
  origin: Origin;
  where: string;
  ref: { ref: MessageRef; why?: string };
  status?: unknown;
  diagnostic?: unknown;
  /** true: the ESP says permanent; false: temporary. */
  permanent: boolean;
  /** The class to use when the ESP gives no enhanced status code. */
  fallback?: BounceClass;
  recipient?: unknown;
  at?: Date;
}): FeedbackEvent {
  const diagnostic = typeof o.diagnostic === 'string' && o.diagnostic ? o.diagnostic.slice(0, 1000) : undefined;
  const given = preciseStatus(typeof o.status === 'string' ? o.status : undefined, diagnostic);
  const status = given && !given.endsWith('.0.0') ? given : undefined;
  let c: { kind: 'bounce' | 'soft_bounce'; class: BounceClass };
  // An ESP that calls it temporary is believed over a 5.x.x in the text.
  if (!o.permanent) c = { kind: 'soft_bounce', class: 'soft' };
  else if (status) c = classifyBounce({ status, action: 'failed' });
  else c = o.fallback === 'soft' ? { kind: 'soft_bounce', class: 'soft' } : { kind: 'bounce', class: o.fallback ?? 'other' };
  const shown = status ?? given;
  return {
    kind: c.kind,
    origin: o.origin,
    where: o.where,
    via: 'webhook',
    class: c.class,
    ...(shown ? { status: shown } : {}),
    ...(diagnostic ? { diagnostic } : {}),
    ...(typeof o.recipient === 'string' ? { recipient: o.recipient } : {}),
    ...(o.at && !Number.isNaN(o.at.getTime()) ? { at: o.at } : {}),
    ...o.ref,
  };
}

export function complaint(o: { origin: Origin; where: string; ref: { ref: MessageRef; why?: string }; feedbackType?: unknown; recipient?: unknown; at?: Date }): FeedbackEvent {
  return {
    kind: 'complaint',
    origin: o.origin,
    where: o.where,
    via: 'webhook',
    feedbackType: typeof o.feedbackType === 'string' && o.feedbackType ? o.feedbackType.slice(0, 40) : 'abuse',
    ...(typeof o.recipient === 'string' ? { recipient: o.recipient } : {}),
    ...(o.at && !Number.isNaN(o.at.getTime()) ? { at: o.at } : {}),
    ...o.ref,
  };
}

export function obj(x: unknown): Record<string, unknown> {
  return x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}

export function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : typeof x === 'number' ? String(x) : undefined;
}
