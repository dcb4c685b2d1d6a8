import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOKEN_CONTEXTS, TOKENS, TRIGGER_EVENTS, type TokenContext } from '../../src/render/tokens.js';
import { repoRoot } from '../support/workspace.js';

const contextsOf = (token: string): readonly TokenContext[] => TOKENS.find((t) => t.token === token)?.contexts ?? [];

describe('the token catalog', () => {
  it('knows every trigger event of the trigger schema', () => {
    const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'trigger.schema.json'), 'utf8'));
    expect([...TRIGGER_EVENTS].sort()).toEqual([...schema.properties.event.enum].sort());
    expect(TOKEN_CONTEXTS.map((c) => c.context).sort()).toEqual(['campaign', 'list', ...TRIGGER_EVENTS].sort());
  });

  it('describes each token once, for at least one known context', () => {
    const known = new Set(TOKEN_CONTEXTS.map((c) => c.context));
    expect(new Set(TOKENS.map((t) => t.token)).size).toBe(TOKENS.length);
    for (const t of TOKENS) {
      expect(t.description.trim(), t.token).not.toBe('');
      expect(t.description, t.token).not.toContain('\n');
      expect(t.contexts.length, t.token).toBeGreaterThan(0);
      for (const c of t.contexts) expect(known.has(c), `${t.token}: ${c}`).toBe(true);
      expect(t.token, 'notation: a.b, a[].b, a.*').toMatch(/^[a-z_]+(\[\])?(\.([a-z_]+(\[\])?|\*))*$/);
    }
  });

  it('gives every context the tokens every message needs', () => {
    for (const { context } of TOKEN_CONTEXTS) {
      for (const token of ['customer.email', 'customer.first_name', 'greeting', 'preheader', 'site.name', 'site.postal_address', 'site.brand.*', 'links.unsubscribe']) {
        expect(contextsOf(token), `${token} in ${context}`).toContain(context);
      }
    }
  });

  it('lists the fields of an item beside its list, for the same contexts', () => {
    for (const t of TOKENS.filter((t) => t.token.includes('[].'))) {
      const list = t.token.slice(0, t.token.indexOf('[]'));
      expect(contextsOf(list), t.token).toEqual(t.contexts);
    }
    for (const list of ['products', 'cart.items', 'order.items']) {
      for (const field of ['name', 'sku', 'url', 'image_url', 'price', 'category']) expect(contextsOf(`${list}[].${field}`), `${list}[].${field}`).not.toEqual([]);
    }
  });

  it('keeps event data to the events that have it', () => {
    expect(contextsOf('cart.total')).toEqual(['cart_abandoned']);
    expect([...contextsOf('order.id')].sort()).toEqual(['cross_sell_after_purchase', 'order_total_over']);
    expect(contextsOf('campaign.title')).toEqual(['campaign', 'list']);
    expect(contextsOf('trigger.name')).toEqual(TRIGGER_EVENTS);
    expect(contextsOf('products')).toContain('back_in_stock');
    expect(contextsOf('products')).not.toContain('birthday');
  });

  it('gives list contacts only what a CSV row has', () => {
    expect(contextsOf('customer.*')).toEqual(['list']);
    for (const token of ['customer.city', 'customer.country', 'customer.birthday', 'links.auto_login']) {
      expect(contextsOf(token), token).not.toContain('list');
      expect(contextsOf(token), token).toContain('campaign');
    }
  });
});
