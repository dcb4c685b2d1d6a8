import type { Trigger } from '../workspace/model.js';

/**
 * The token catalog: every value a template can use, and where it can use it.
 * `herald validate` checks each template's variables against it, and the docs
 * render it as one table, so it stays plain data.
 *
 * Notation: `a.b` is a field, `a[]` an item of the list `a` (what
 * `{% for x in a %}` binds `x` to), and `*` any name.
 */

export type TriggerEvent = Trigger['event'];

/**
 * Where a template is used decides what it can use:
 * - `campaign`: a campaign sent to segments, so to shop customers;
 * - `list`: a campaign sent to an imported list, whose contacts have only the CSV's columns;
 * - a trigger's event kind: a notification about that event.
 */
export type TokenContext = 'campaign' | 'list' | TriggerEvent;

export const TRIGGER_EVENTS: readonly TriggerEvent[] = [
  'birthday',
  'cart_abandoned',
  'back_in_stock',
  'no_order_after_signup',
  'order_total_over',
  'cross_sell_after_purchase',
  'sql',
];

/** Each context with what it means, for the docs table's header. */
export const TOKEN_CONTEXTS: readonly { context: TokenContext; description: string }[] = [
  { context: 'campaign', description: 'a campaign sent to segments of shop customers' },
  { context: 'list', description: 'a campaign sent to an imported list' },
  { context: 'birthday', description: 'a trigger on the customer\'s birthday' },
  { context: 'cart_abandoned', description: 'a trigger on a cart left without an order' },
  { context: 'back_in_stock', description: 'a trigger on products the customer wanted coming back in stock' },
  { context: 'no_order_after_signup', description: 'a trigger on a sign-up without an order' },
  { context: 'order_total_over', description: 'a trigger on an order above an amount' },
  { context: 'cross_sell_after_purchase', description: 'a trigger some time after a purchase in given categories' },
  { context: 'sql', description: 'a trigger on the rows of a custom SELECT' },
];

export interface TokenDoc {
  token: string;
  description: string;
  contexts: readonly TokenContext[];
  /**
   * How long its value can be, for what validate computes with every token at
   * its longest (SMS parts, push payload size): characters for a text, items
   * for a list, 'link' for an address that a short or click tracking link
   * replaces. site.* are measured in herald.yaml instead.
   */
  longest: number | 'link';
}

const EVERYWHERE: readonly TokenContext[] = ['campaign', 'list', ...TRIGGER_EVENTS];
const CAMPAIGNS: readonly TokenContext[] = ['campaign', 'list'];
/** Shop customers: everyone but the contacts of an imported list, who are only a CSV row. */
const CUSTOMERS: readonly TokenContext[] = ['campaign', ...TRIGGER_EVENTS];
const WITH_PRODUCTS: readonly TokenContext[] = ['campaign', 'list', 'back_in_stock', 'cross_sell_after_purchase'];
const WITH_ORDER: readonly TokenContext[] = ['order_total_over', 'cross_sell_after_purchase'];

/** The fields of a product, as an item of `products`, `cart.items` or `order.items`. */
function productFields(list: string, contexts: readonly TokenContext[], quantity: boolean): TokenDoc[] {
  const fields: [string, string, number | 'link'][] = [
    ['name', 'the product\'s name', 60],
    ['sku', 'the product\'s SKU', 32],
    ['url', 'the product\'s page on the site', 'link'],
    ['image_url', 'the product\'s main image', 'link'],
    ['price', 'the price, formatted for the locale and the site\'s currency', 14],
    ['category', 'the product\'s category', 40],
  ];
  if (quantity) fields.push(['quantity', 'how many the customer took', 4]);
  return fields.map(([field, description, longest]) => ({ token: `${list}[].${field}`, description, contexts, longest }));
}

export const TOKENS: readonly TokenDoc[] = [
  { token: 'customer.first_name', description: 'first name; may be empty', contexts: EVERYWHERE, longest: 40 },
  { token: 'customer.last_name', description: 'last name; may be empty', contexts: EVERYWHERE, longest: 40 },
  { token: 'customer.email', description: 'the address the message goes to', contexts: EVERYWHERE, longest: 254 },
  { token: 'customer.locale', description: 'the locale the message is written in, for example en', contexts: EVERYWHERE, longest: 5 },
  { token: 'customer.city', description: 'city from the shop\'s customer record', contexts: CUSTOMERS, longest: 40 },
  { token: 'customer.country', description: 'country from the shop\'s customer record', contexts: CUSTOMERS, longest: 56 },
  { token: 'customer.birthday', description: 'the day and month of birth, formatted for the locale ("12 March")', contexts: CUSTOMERS, longest: 20 },
  { token: 'customer.*', description: 'any other column of the list\'s CSV header', contexts: ['list'], longest: 40 },

  { token: 'greeting', description: '"Dear Anna," when the campaign asks for a personal greeting and the first name is known, a generic one otherwise', contexts: EVERYWHERE, longest: 60 },
  { token: 'preheader', description: 'the template\'s preheader for this locale, rendered', contexts: EVERYWHERE, longest: 150 },

  { token: 'products', description: 'a list of products: the campaign\'s SKUs, the products back in stock, or the recommendations of a cross-sell', contexts: WITH_PRODUCTS, longest: 3 },
  ...productFields('products', WITH_PRODUCTS, false),

  { token: 'cart.items', description: 'a list of the products left in the cart', contexts: ['cart_abandoned'], longest: 5 },
  ...productFields('cart.items', ['cart_abandoned'], true),
  { token: 'cart.total', description: 'the cart\'s total, formatted for the locale and currency', contexts: ['cart_abandoned'], longest: 14 },
  { token: 'cart.url', description: 'a link back to the cart on the site', contexts: ['cart_abandoned'], longest: 'link' },

  { token: 'order.id', description: 'the order\'s number in the shop', contexts: WITH_ORDER, longest: 20 },
  { token: 'order.total', description: 'the order\'s total, formatted for the locale and currency', contexts: WITH_ORDER, longest: 14 },
  { token: 'order.created_at', description: 'when the order was placed, formatted for the locale', contexts: WITH_ORDER, longest: 30 },
  { token: 'order.items', description: 'a list of the products in the order', contexts: WITH_ORDER, longest: 5 },
  ...productFields('order.items', WITH_ORDER, true),

  { token: 'event.*', description: 'any key of the row\'s payload column: the jsonb object the trigger\'s SELECT returns as payload', contexts: ['sql'], longest: 40 },

  { token: 'site.id', description: 'the site\'s id in herald.yaml', contexts: EVERYWHERE, longest: 32 },
  { token: 'site.name', description: 'the site\'s name', contexts: EVERYWHERE, longest: 40 },
  { token: 'site.url', description: 'the site\'s address, without a trailing slash', contexts: EVERYWHERE, longest: 'link' },
  { token: 'site.postal_address', description: 'the postal address the footer must show', contexts: EVERYWHERE, longest: 120 },
  { token: 'site.currency', description: 'the site\'s currency code, for example EUR', contexts: EVERYWHERE, longest: 3 },
  { token: 'site.brand.*', description: 'any brand variable of the site in herald.yaml (logo_url, primary_color, ...)', contexts: EVERYWHERE, longest: 60 },

  { token: 'campaign.name', description: 'the campaign\'s file name', contexts: CAMPAIGNS, longest: 64 },
  { token: 'campaign.title', description: 'the campaign\'s title', contexts: CAMPAIGNS, longest: 100 },
  { token: 'trigger.name', description: 'the trigger\'s file name', contexts: TRIGGER_EVENTS, longest: 64 },

  { token: 'links.unsubscribe', description: 'the one-click unsubscribe link', contexts: EVERYWHERE, longest: 'link' },
  { token: 'links.auto_login', description: 'a signed link that logs the customer into the shop', contexts: CUSTOMERS, longest: 'link' },
];
