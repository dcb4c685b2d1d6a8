import { closest, distance } from 'fastest-levenshtein';
import { TOKEN_CONTEXTS, TOKENS, TRIGGER_EVENTS, type TokenContext } from '../../render/tokens.js';
import { RESERVED } from '../../render/template-rules.js';
import type { TokenUse } from './templates-walk.js';

/**
 * The token catalog as a tree per context, and the messages for a token a
 * template may not use. A path is the catalog's notation split up:
 * `products[].name` is ["products", "[]", "name"].
 */

export interface TokenTree {
  children: Map<string, TokenTree>;
  /** `*`: any name is allowed here, and anything below it. */
  any: boolean;
}

/** One place a template is used, and the tokens it has there. */
export interface TokenUsage {
  /** For messages: `campaign "winback"`, `trigger "cart" (cart_abandoned)`. */
  label: string;
  /** Absent for a template nothing uses, checked against every context. */
  context?: TokenContext;
  tree: TokenTree;
}

export function splitToken(token: string): string[] {
  return token.split('.').flatMap((part) => (part.endsWith('[]') ? [part.slice(0, -2), '[]'] : [part]));
}

export function catalogPath(path: readonly string[]): string {
  return path.join('.').replace(/\.\[\]/g, '[]');
}

function buildTree(tokens: string[]): TokenTree {
  const root: TokenTree = { children: new Map(), any: false };
  for (const token of tokens) {
    let node = root;
    for (const part of splitToken(token)) {
      if (part === '*') {
        node.any = true;
        break;
      }
      let next = node.children.get(part);
      if (!next) node.children.set(part, (next = { children: new Map(), any: false }));
      node = next;
    }
  }
  return root;
}

const trees = new Map<string, TokenTree>();

/**
 * The tokens of one context. For a campaign to lists, `columns` are the CSV
 * columns its contacts carry as `customer.<column>`; 'any' when they cannot be
 * read, so that nothing is reported that the list checks explain better.
 */
export function contextTree(context: TokenContext, columns: readonly string[] | 'any' = []): TokenTree {
  const key = `${context}:${columns === 'any' ? '*' : [...columns].sort().join(',')}`;
  let tree = trees.get(key);
  if (!tree) {
    const tokens = TOKENS.filter((t) => t.contexts.includes(context) && t.token !== 'customer.*').map((t) => t.token);
    if (context === 'list') tokens.push(...(columns === 'any' ? ['customer.*'] : columns.map((c) => `customer.${c}`)));
    tree = buildTree(tokens);
    trees.set(key, tree);
  }
  return tree;
}

/** Every token of every context: what decides between "unknown" and "not available here". */
export const ANY_CONTEXT: TokenTree = buildTree(TOKENS.filter((t) => t.token !== 'customer.*').map((t) => t.token));

export type TokenMatch = { ok: true } | { ok: false; at: number; node: TokenTree };

/** What `*` matches: one name, holding a plain value. */
const LEAF: TokenTree = { children: new Map(), any: false };

/**
 * Whether a path is a token of the tree. `*` stands for one name (a CSV
 * column, a brand variable), never a name every JavaScript object has. Below
 * a plain value (a text, a number) only its length can be read, and a list
 * has a length too: nothing else a JavaScript value carries is a token.
 */
export function matchToken(tree: TokenTree, path: readonly string[]): TokenMatch {
  let node = tree;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    const next = node.children.get(part);
    if (next) {
      node = next;
      continue;
    }
    if (node.any && part !== '[]' && !RESERVED.has(part)) {
      node = LEAF;
      continue;
    }
    const last = i === path.length - 1;
    if (last && part === 'length' && (node.children.size === 0 || node.children.has('[]'))) return { ok: true };
    return { ok: false, at: i, node };
  }
  return { ok: true };
}

/** Every field name of the trees, as a value the catalog cannot describe (a macro argument) may be read by. */
export function fieldNames(trees: readonly TokenTree[]): Set<string> {
  const out = new Set<string>(['length']);
  const visit = (t: TokenTree) => {
    for (const [k, child] of t.children) {
      if (k !== '[]') out.add(k);
      visit(child);
    }
  };
  trees.forEach(visit);
  return out;
}

export function writtenAs(name: string, keys: readonly (string | number)[]): string {
  return keys.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : /^[A-Za-z_]\w*$/.test(k) ? `${s}.${k}` : `${s}[${JSON.stringify(k)}]`), name);
}

/** The problem with one token use across every place the template is used, if any. */
export function tokenProblem(use: TokenUse, usages: readonly TokenUsage[]): { message: string; hint: string } | undefined {
  const failing = usages.filter((u) => !matchToken(u.tree, use.path).ok);
  if (failing.length === 0) return undefined;
  const written = writtenAs(use.name, use.keys);
  const item = use.via ? ` (${use.name} is ${use.via.at(-1) === '[]' ? `an item of ${catalogPath(use.via.slice(0, -1))}` : catalogPath(use.via)})` : '';

  if (matchToken(ANY_CONTEXT, use.path).ok) {
    return {
      message: `token "${written}" is not available to ${labels(failing)}`,
      hint: availability(use.path, failing) + item,
    };
  }
  const miss = matchToken(failing[0]!.tree, use.path) as Extract<TokenMatch, { ok: false }>;
  return { message: `unknown token "${written}"`, hint: suggestion(use, miss) + item };
}

function labels(usages: readonly TokenUsage[]): string {
  const names = [...new Set(usages.map((u) => u.label))];
  return names.length <= 2 ? names.join(' and ') : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`;
}

/** Where the token does exist, and what to do for a list whose CSV lacks the column. */
function availability(path: readonly string[], failing: readonly TokenUsage[]): string {
  const where = TOKEN_CONTEXTS.map((c) => c.context).filter((c) => matchToken(contextTree(c), path).ok);
  const events = where.filter((c) => (TRIGGER_EVENTS as readonly string[]).includes(c));
  const parts: string[] = [];
  if (where.includes('campaign')) parts.push('campaigns to segments');
  if (where.includes('list')) parts.push('campaigns to lists');
  if (events.length === TRIGGER_EVENTS.length) parts.push('every trigger');
  else if (events.length > 0) parts.push(`triggers on ${events.join(', ')}`);
  let hint = `${catalogPath(path)} exists for ${parts.join(', ')}`;
  if (path[0] === 'customer' && path.length === 2 && failing.some((u) => u.context === 'list')) {
    hint += `; for a list, add a ${path[1]} column to its CSV`;
  }
  return hint;
}

/** Did-you-mean for the first unknown part, or what is there instead. */
function suggestion(use: TokenUse, miss: { at: number; node: TokenTree }): string {
  const part = use.path[miss.at]!;
  const names = [...miss.node.children.keys()].filter((k) => k !== '[]');
  // The written form and the path differ by the loop variable standing for its list.
  const keyIndex = miss.at - (use.via ? use.via.length : 1);
  const before = keyIndex < 0 ? '' : writtenAs(use.name, use.keys.slice(0, keyIndex));
  if (RESERVED.has(part)) return `${part} is a name every JavaScript value has, never a token; docs/tokens.md lists the tokens`;
  if (miss.node.children.size === 0 && !miss.node.any && keyIndex >= 0) {
    return `${before} is a value, not a set of tokens: only its length can be read`;
  }
  if (miss.node.children.has('[]') && part !== '[]') {
    return `${before} is a list: loop over it with {% for item in ${before} %} and use item.${part}`;
  }
  if (names.length > 0) {
    const near = closest(part, names);
    if (close(part, near)) {
      const keys = [...use.keys];
      const name = keyIndex < 0 ? near : use.name;
      if (keyIndex >= 0) keys[keyIndex] = near;
      return `did you mean "${writtenAs(name, keys)}"?`;
    }
  }
  return keyIndex < 0 ? `tokens here: ${names.sort().join(', ')}` : `${before} has: ${names.join(', ')}`;
}

/**
 * Near enough to suggest: a third of the name may be wrong ("frist_name" →
 * "first_name"), or two letters when the first one is right, for swapped
 * letters in short names ("nmae" → "name", but not "item" → "site").
 */
function close(written: string, known: string): boolean {
  const d = distance(written, known);
  return d <= Math.max(1, Math.floor(written.length / 3)) || (d <= 2 && written.length > 2 && written[0] === known[0]);
}
