import type { Condition, Segment } from '../workspace/model.js';
import { toInterval } from './duration.js';
import { quoteIdent } from '../db/ident.js';

/**
 * Compiles a segment condition into one parameterised SQL statement that
 * returns `customer_id`. Composition (all/any/not, segment:) compiles into the
 * same statement; nothing is evaluated separately and joined in Node. Values
 * always travel as `$n` parameters; only the validated schema name is spliced.
 */
export interface CompileContext {
  /** The shop data contract's schema. */
  schema: string;
  /** Every segment, for `segment:` references. */
  segments: ReadonlyMap<string, Segment>;
  /** Order statuses that do not count as orders. */
  cancelled: readonly string[];
}

export interface CompiledSql {
  text: string;
  values: unknown[];
}

class Params {
  readonly values: unknown[];
  constructor(values: unknown[] = []) {
    this.values = values;
  }
  add(v: unknown, cast = ''): string {
    this.values.push(v);
    return `$${this.values.length}${cast}`;
  }
}

const MAX_DEPTH = 32;

/**
 * `SELECT c.id AS customer_id FROM <schema>.customers c WHERE …`. Relative
 * durations resolve against `now`, a parameter the caller chooses. Pass
 * `values` to continue numbering after parameters of an enclosing query.
 */
export function compileSegment(where: Condition, ctx: CompileContext, now: Date, values: unknown[] = []): CompiledSql {
  const p = new Params(values);
  const q = quoteIdent(ctx.schema);
  const cond = new Compiler(ctx, p, q, now).condition(where, 0);
  return { text: `SELECT c.id AS customer_id FROM ${q}.customers c WHERE ${cond}`, values: p.values };
}

class Compiler {
  // Added on first use: PostgreSQL cannot type a parameter the statement never mentions.
  private nowParam?: string;
  private cancelledParam?: string;

  constructor(
    private ctx: CompileContext,
    private p: Params,
    private schema: string,
    private nowValue: Date,
  ) {}

  private get now(): string {
    return (this.nowParam ??= this.p.add(this.nowValue.toISOString(), '::timestamptz'));
  }

  private get cancelled(): string {
    return (this.cancelledParam ??= this.p.add([...this.ctx.cancelled], '::text[]'));
  }

  condition(c: Condition, depth: number): string {
    if (depth > MAX_DEPTH) throw new Error('segment nesting too deep (a cycle?)');
    const [key, value] = Object.entries(c)[0] as [keyof Condition, unknown];
    switch (key) {
      case 'all':
        return `(${(value as Condition[]).map((x) => this.condition(x, depth + 1)).join(' AND ')})`;
      case 'any':
        return `(${(value as Condition[]).map((x) => this.condition(x, depth + 1)).join(' OR ')})`;
      case 'not':
        // A condition on a NULL attribute is unknown, and NOT unknown is unknown too;
        // "not X" must mean "everyone X does not match", so NULL counts as false.
        return `NOT coalesce(${this.condition(value as Condition, depth + 1)}, false)`;
      case 'site':
      case 'locale':
      case 'country':
      case 'city':
        return this.text(`c.${key}`, value as Condition['site']);
      case 'registered':
        return this.date('c.created_at', value as NonNullable<Condition['registered']>);
      case 'order_count':
        return this.aggregate('count(*)', value as NonNullable<Condition['order_count']>);
      case 'total_spent':
        return this.aggregate('coalesce(sum(o.total), 0)', value as NonNullable<Condition['total_spent']>);
      case 'last_order':
        return this.lastOrder(value as NonNullable<Condition['last_order']>);
      case 'segment': {
        const seg = this.ctx.segments.get(value as string);
        if (!seg) throw new Error(`unknown segment ${String(value)}`);
        return this.condition(seg.where, depth + 1);
      }
      default:
        throw new Error(`unsupported condition ${String(key)}`);
    }
  }

  private text(column: string, pred: Condition['site']): string {
    if (typeof pred === 'string') return `${column} = ${this.p.add(pred)}`;
    if (pred && 'in' in pred && pred.in) return `${column} = ANY(${this.p.add(pred.in, '::text[]')})`;
    if (pred && 'not_in' in pred && pred.not_in) {
      return `(${column} IS NULL OR ${column} <> ALL(${this.p.add(pred.not_in, '::text[]')}))`;
    }
    throw new Error('empty text predicate');
  }

  private ago(duration: string): string {
    return `(${this.now} - ${this.p.add(toInterval(duration), '::interval')})`;
  }

  private date(column: string, pred: { within?: string; before?: string }): string {
    const parts: string[] = [];
    if (pred.within) parts.push(`${column} >= ${this.ago(pred.within)}`);
    if (pred.before) parts.push(`${column} < ${this.ago(pred.before)}`);
    return `(${parts.join(' AND ')})`;
  }

  /** Orders that count: not cancelled, optionally within a window ending at now. */
  private orders(within?: string): string {
    const window = within ? ` AND o.created_at >= ${this.ago(within)}` : '';
    return `${this.schema}.orders o WHERE o.customer_id = c.id AND o.status <> ALL(${this.cancelled})${window}`;
  }

  private aggregate(expr: string, pred: { gte?: number; gt?: number; lte?: number; lt?: number; eq?: number; within?: string }): string {
    const value = `(SELECT ${expr} FROM ${this.orders(pred.within)})`;
    const ops = { gte: '>=', gt: '>', lte: '<=', lt: '<', eq: '=' } as const;
    const parts = (Object.keys(ops) as (keyof typeof ops)[])
      .filter((k) => pred[k] !== undefined)
      .map((k) => `${value} ${ops[k]} ${this.p.add(pred[k], '::numeric')}`);
    return `(${parts.join(' AND ')})`;
  }

  private lastOrder(pred: { within?: string; before?: string; exists?: boolean }): string {
    const parts: string[] = [];
    if (pred.exists === false) parts.push(`NOT EXISTS (SELECT 1 FROM ${this.orders()})`);
    if (pred.exists === true) parts.push(`EXISTS (SELECT 1 FROM ${this.orders()})`);
    if (pred.within) parts.push(`EXISTS (SELECT 1 FROM ${this.orders(pred.within)})`);
    // "Last order longer ago than d": has ordered, and nothing since.
    if (pred.before) {
      parts.push(`EXISTS (SELECT 1 FROM ${this.orders()})`, `NOT EXISTS (SELECT 1 FROM ${this.orders(pred.before)})`);
    }
    return `(${parts.join(' AND ')})`;
  }
}
