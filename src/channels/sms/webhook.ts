import { UserError } from '../../errors.js';
import { ChannelFailure } from '../channel.js';
import { classifyNoReply, classifyStatus, oneLine, retryAfterSeconds, TIMEOUT_MS, type SmsProvider, type SmsRequest } from './provider.js';

/**
 * A generic JSON provider: POST the body herald.yaml maps out to a URL,
 * with an Authorization header from the environment. String values of the
 * mapping may hold `{{ to }}`, `{{ text }}` and `{{ from }}`, replaced by the
 * message's values as JSON strings (JSON.stringify escapes them); nothing
 * else is read or evaluated. 2xx is accepted, the provider's id read from
 * the reply at `id_field`; 408 and 429 are retried, any other 4xx is
 * permanent; 5xx is retried.
 */
export interface WebhookOptions {
  url: string;
  /** The Authorization header's value, from the variable auth_header_env names. */
  authorization?: string;
  body: Record<string, unknown>;
  /** A field name (`id`) or a JSON pointer (`/data/id`). */
  idField?: string;
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}/g;
const FIELDS = ['to', 'text', 'from'] as const;

export function webhookProvider(o: WebhookOptions): SmsProvider {
  const bad = unknownPlaceholders(o.body);
  if (bad.length) {
    throw new UserError(`herald.yaml: sms.webhook.body uses ${bad.map((b) => `{{ ${b} }}`).join(', ')}`, 'a webhook body may only use {{ to }}, {{ text }} and {{ from }}');
  }
  const pointer = toPointer(o.idField ?? 'id');
  return {
    async send(m) {
      let res: Response;
      let text: string;
      try {
        res = await fetch(o.url, {
          method: 'POST',
          body: JSON.stringify(fill(o.body, m)),
          headers: { 'content-type': 'application/json', accept: 'application/json', ...(o.authorization ? { authorization: o.authorization } : {}) },
          redirect: 'error',
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        text = await res.text();
      } catch (err) {
        throw new ChannelFailure(classifyNoReply(err, 'webhook'));
      }
      if (!res.ok) throw new ChannelFailure(classifyStatus(res.status, oneLine(`webhook ${res.status} ${text}`), retryAfterSeconds(res.headers.get('retry-after'))));
      const id = at(parse(text), pointer);
      if (typeof id !== 'string' && typeof id !== 'number') {
        // Accepted, but with nothing receipts could name it by: sent all the same.
        return { id: '', response: oneLine(`webhook ${res.status} without an id at ${o.idField ?? 'id'}: ${text}`) };
      }
      return { id: String(id), response: oneLine(`webhook ${res.status} ${id}`) };
    },
  };
}

/** The body for one message: placeholders replaced in every string, at any depth. */
export function fill(body: unknown, m: Pick<SmsRequest, 'to' | 'text' | 'from'>): unknown {
  if (typeof body === 'string') return body.replace(PLACEHOLDER, (all, name: string) => ((FIELDS as readonly string[]).includes(name) ? m[name as (typeof FIELDS)[number]] : all));
  if (Array.isArray(body)) return body.map((x) => fill(x, m));
  if (body && typeof body === 'object') return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, fill(v, m)]));
  return body;
}

function unknownPlaceholders(body: unknown): string[] {
  if (typeof body === 'string') return [...body.matchAll(PLACEHOLDER)].map((x) => x[1]!).filter((n) => !(FIELDS as readonly string[]).includes(n));
  if (Array.isArray(body)) return body.flatMap(unknownPlaceholders);
  if (body && typeof body === 'object') return Object.values(body).flatMap(unknownPlaceholders);
  return [];
}

/** `id` → ['id']; `/data/id` → ['data', 'id'] (RFC 6901 escapes). */
function toPointer(field: string): string[] {
  if (!field.startsWith('/')) return [field];
  return field
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function at(v: unknown, path: readonly string[]): unknown {
  let x = v;
  for (const p of path) {
    if (!x || typeof x !== 'object') return undefined;
    x = Array.isArray(x) ? x[Number(p)] : (x as Record<string, unknown>)[p];
  }
  return x;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
