/**
 * What a cross-sell may show a customer: an in-stock product of the
 * trigger's `recommend` categories that the customer has not bought (in an
 * order that counts, so not a cancelled one). One definition for the
 * message's products (extras.ts) and its exit, "nothing left to recommend"
 * (exits.ts), so a message never goes out with nothing its exit would have
 * found.
 */

/**
 * unboughtRecommendation: a WHERE condition over the product row `p` for
 * the customer `customerId` (an SQL expression). `schema` is quoted already;
 * `recommend` and `cancelled` are parameter references (`$n::text[]`).
 * Whether the customer bought a product is an index probe per product on
 * order_items (sku), then orders by id (docs/shop-data-contract.md).
 */
export function unboughtRecommendation(o: { schema: string; customerId: string; recommend: string; cancelled: string }): string {
  return `p.category = ANY(${o.recommend}) AND p.in_stock
          AND NOT EXISTS (SELECT 1 FROM ${o.schema}.order_items bi
                            JOIN ${o.schema}.orders bo ON bo.id = bi.order_id
                           WHERE bi.sku = p.sku AND bo.customer_id = ${o.customerId} AND bo.status <> ALL(${o.cancelled}))`;
}
