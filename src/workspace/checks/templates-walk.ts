import { FILTERS, FUNCTIONS, LOOP_KEYS, RESERVED, TESTS } from '../../render/template-rules.js';
import type { NjNode } from './templates-nunjucks.js';
import { writtenAs } from './templates-tokens.js';

/**
 * What a nunjucks text reads and does, from its syntax tree: every token it
 * reads (checked against the catalog by templates-tokens.ts), every tag that
 * needs a loader, and everything outside what templates may do. A template
 * reads tokens and the names it binds itself (loop, set and macro
 * variables), through the filters and tests render/template-rules.ts allows, and
 * calls only its macros, `caller()` and `range()`: nothing else reaches
 * JavaScript. Positions are 1-based, in the text given.
 */

/** One token read by the template. */
export interface TokenUse {
  line: number;
  column: number;
  /** The variable and the keys after it, as written: `p` and ["nme"] for `p.nme`; a number is an index. */
  name: string;
  keys: (string | number)[];
  /** The catalog path read (`[]` for a list item): ["products", "[]", "nme"]. */
  path: string[];
  /** The catalog path a loop or `{% set %}` variable stands for, when the use goes through one. */
  via?: readonly string[];
  /** Written in `{{ … }}`, so part of the output: not only a condition or a `{% set %}`. */
  printed: boolean;
}

/** A tag that needs a nunjucks loader, which herald's templates do not have. */
export interface LoaderTag {
  line: number;
  column: number;
  tag: string;
}

/** Something templates may not do, where it is written. */
export interface Refusal {
  line: number;
  column: number;
  message: string;
  hint: string;
}

const LOADER_TAGS: Record<string, string> = { Include: 'include', Extends: 'extends', Import: 'import', FromImport: 'from … import' };
/** nunjucks' own globals herald leaves out: they hand the template JavaScript functions. */
const LEFT_OUT: Record<string, string> = {
  cycler: 'use loop.index or loop.first, or {% if loop.index is odd %}',
  joiner: 'use {% if not loop.first %}, {% endif %} between items',
};
const CALLS_HINT = 'a template calls only its own macros, caller() inside a macro, and range(); use a filter (| upper, | replace) for what a method would do';
const ALLOWED_FILTERS = Object.keys(FILTERS).sort().join(', ');

/**
 * What a variable stands for: a catalog path; a value the catalog cannot
 * describe (macro arguments, a loop over a dict, a set from an expression);
 * the loop object; or a macro (or caller), which can only be called.
 */
type Binding = { kind: 'token'; path: readonly string[] } | { kind: 'value' } | { kind: 'loop' } | { kind: 'callable' };
const VALUE: Binding = { kind: 'value' };
const CALLABLE: Binding = { kind: 'callable' };

class Scope {
  private readonly vars = new Map<string, Binding>();
  constructor(private readonly parent?: Scope) {}
  define(name: string, b: Binding): void {
    this.vars.set(name, b);
  }
  lookup(name: string): Binding | undefined {
    return this.vars.get(name) ?? this.parent?.lookup(name);
  }
}

export interface WalkOptions {
  /** Whether a catalog path exists in every context the template is used in. */
  isKnown(path: readonly string[]): boolean;
  /** Whether a key is the name of some token field, as a macro argument may be read by. */
  isKey(key: string): boolean;
}

/**
 * Every token the template reads, every tag that needs a loader, and every
 * refusal. A loop over an unknown list is reported once, at the loop, and its
 * variable is then a value the catalog cannot describe.
 */
export function tokenUses(root: NjNode, o: WalkOptions): { uses: TokenUse[]; loaderTags: LoaderTag[]; refusals: Refusal[] } {
  const uses: TokenUse[] = [];
  const loaderTags: LoaderTag[] = [];
  const refusals: Refusal[] = [];
  /** How many `{{ … }}` the walk is inside. */
  let printing = 0;
  const refuse = (node: NjNode, message: string, hint: string) => {
    const at = start(node);
    refusals.push({ line: at.lineno + 1, column: at.colno + 1, message, hint });
  };

  const pathKeys = (keys: readonly (string | number)[]) => keys.map((k) => (typeof k === 'number' ? '[]' : k));

  /** A name the template binds: never one every JavaScript object answers to. */
  const bind = (scope: Scope, node: NjNode, b: Binding) => {
    const name = String(node.value);
    if (RESERVED.has(name)) refuse(node, `"${name}" cannot be a variable's name`, 'pick another name');
    scope.define(name, b);
  };

  /** The literal keys of a chain of lookups, or undefined (after refusing) when one is computed. */
  const literalKeys = (vals: NjNode[], scope: Scope): (string | number)[] | undefined => {
    const keys: (string | number)[] = [];
    for (const v of vals) {
      if (v.typename === 'Literal' && (typeof v.value === 'string' || typeof v.value === 'number')) {
        keys.push(v.value);
        continue;
      }
      refuse(v, 'a computed key cannot be checked against the tokens', 'write the key itself: customer.company, products[0]');
      walk(v, scope);
      return undefined;
    }
    return keys;
  };

  /** The catalog meaning of a value, for binding a loop or set variable to it. */
  const bindingOf = (node: NjNode, scope: Scope): Binding => {
    const { root, vals } = chain(node);
    if (root.typename !== 'Symbol' || !vals.every((v) => v.typename === 'Literal' && (typeof v.value === 'string' || typeof v.value === 'number'))) return VALUE;
    const name = String(root.value);
    const bound = scope.lookup(name);
    const base = bound === undefined ? (FUNCTIONS.has(name) || LEFT_OUT[name] ? undefined : [name]) : bound.kind === 'token' ? bound.path : undefined;
    if (!base) return VALUE;
    const path = [...base, ...pathKeys(vals.map((v) => v.value as string | number))];
    return o.isKnown(path) ? { kind: 'token', path } : VALUE;
  };

  /** A variable and the keys read from it; `callee` when it is what a call calls. */
  const read = (node: NjNode, scope: Scope, callee = false) => {
    const { root, vals } = chain(node);
    const keys = literalKeys(vals, scope);
    if (root.typename !== 'Symbol') {
      walk(root, scope);
      if (keys) plainKeys(root, keys, vals);
      return;
    }
    if (!keys) return;
    const name = String(root.value);
    const bound = scope.lookup(name);
    const at = { line: root.lineno + 1, column: root.colno + 1, name, keys, printed: printing > 0 };
    const written = writtenAs(name, keys);
    if (bound === undefined && (FUNCTIONS.has(name) || LEFT_OUT[name])) {
      if (LEFT_OUT[name]) refuse(root, `${name}() is not available in herald templates`, LEFT_OUT[name]);
      else if (!callee || keys.length > 0) refuse(root, `"${written}": ${name} can only be called, as ${name}(…)`, CALLS_HINT);
      return;
    }
    if (bound === undefined) {
      uses.push({ ...at, path: [name, ...pathKeys(keys)] });
      return;
    }
    switch (bound.kind) {
      case 'token':
        uses.push({ ...at, path: [...bound.path, ...pathKeys(keys)], via: bound.path });
        return;
      case 'callable':
        if (!callee || keys.length > 0) refuse(root, `"${written}": ${name} is a macro, which can only be called, as ${name}(…)`, CALLS_HINT);
        return;
      case 'loop': {
        const bad = keys.findIndex((k, i) => i > 0 || !LOOP_KEYS.includes(String(k)));
        if (bad >= 0) refuse(vals[bad]!, `"${written}": loop has no ${JSON.stringify(keys[bad])}`, `loop has: ${LOOP_KEYS.join(', ')}`);
        return;
      }
      case 'value': {
        const bad = keys.findIndex((k) => typeof k === 'string' && (RESERVED.has(k) || !o.isKey(k)));
        if (bad >= 0) {
          refuse(vals[bad]!, `"${written}" reads ${JSON.stringify(keys[bad])}, which no token has`, `${name} is not a token the catalog describes (a macro argument, a loop over a dict, or a set from an expression): only the names of token fields can be read from it`);
        }
      }
    }
  };

  /** Keys read from a literal, a call's or a filter's result: a dict literal's own keys, an item, a length. */
  const plainKeys = (root: NjNode, keys: readonly (string | number)[], vals: NjNode[]) => {
    const own = root.typename === 'Dict' ? ((root.children as NjNode[] | undefined) ?? []).map((p) => String((p.key as NjNode).value)) : [];
    const bad = keys.findIndex((k, i) => typeof k === 'string' && k !== 'length' && !(i === 0 && own.includes(k)));
    if (bad >= 0) {
      refuse(vals[bad]!, `${JSON.stringify(keys[bad])} cannot be read from ${describe(root)}`, 'only an item ([0]) or the length of a list or text can be read from a value that is not a token');
    }
  };

  const walk = (node: unknown, scope: Scope): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as NjNode;
    switch (n.typename) {
      case 'Symbol':
      case 'LookupVal':
        read(n, scope);
        return;
      case 'Output':
        printing++;
        for (const c of (n.children as NjNode[] | undefined) ?? []) walk(c, scope);
        printing--;
        return;
      case 'Literal':
        if (n.value instanceof RegExp) refuse(n, 'regular expressions are not allowed in templates', 'replace with plain text: | replace("old", "new")');
        return;
      case 'TemplateData':
        return;
      case 'Filter':
      case 'FilterAsync': {
        const name = String((n.name as NjNode).value);
        const args = ((n.args as NjNode).children as NjNode[] | undefined) ?? [];
        const max = Object.hasOwn(FILTERS, name) ? FILTERS[name]! : undefined;
        if (max === undefined) refuse(n.name as NjNode, `filter "${name}" is not allowed`, name === 'safe' ? 'values are escaped so that data cannot add markup; write the markup in the template itself' : `filters templates can use: ${ALLOWED_FILTERS}`);
        else if (args.length - 1 > max) refuse(args[max + 1]!, `filter "${name}" takes ${max === 0 ? 'no arguments' : `at most ${max} argument${max === 1 ? '' : 's'}`}`, 'see docs/templates.md for the filters and their arguments');
        walk(n.args, scope);
        return;
      }
      case 'FunCall': {
        const callee = n.name as NjNode;
        const name = callee.typename === 'Symbol' ? String(callee.value) : undefined;
        const bound = name === undefined ? undefined : scope.lookup(name);
        if (name !== undefined && (bound?.kind === 'callable' || (bound === undefined && (FUNCTIONS.has(name) || LEFT_OUT[name])))) read(callee, scope, true);
        // The innermost call that is not allowed is the one to report.
        else if (callee.typename === 'FunCall') walk(callee, scope);
        else refuse(callee, `${describe(callee)} cannot be called`, CALLS_HINT);
        walk(n.args, scope);
        return;
      }
      case 'Is': {
        walk(n.left, scope);
        // The right side names a test (defined, odd); only a call's arguments are expressions.
        // A test written as a string or an expression is unsafeSyntax's to report.
        const test = n.right as NjNode;
        const named = test.typename === 'FunCall' ? (test.name as NjNode) : test;
        if (named.typename !== 'Symbol' && !(named.typename === 'Literal' && named.value === null)) return;
        const name = String(named.value);
        if (!TESTS.has(name)) refuse(test, `test "${name}" is not allowed`, `tests templates can use: ${[...TESTS].join(', ')}`);
        if (test.typename === 'FunCall') walk(test.args, scope);
        return;
      }
      case 'Pair': {
        // A dict's bare key or a keyword argument's name is not a variable.
        const key = n.key as NjNode;
        if ((key.typename === 'Symbol' || key.typename === 'Literal') && RESERVED.has(String(key.value))) refuse(key, `"${String(key.value)}" cannot be a key`, 'pick another name');
        if (key.typename !== 'Symbol') walk(key, scope);
        walk(n.value, scope);
        return;
      }
      case 'For':
      case 'AsyncEach':
      case 'AsyncAll': {
        walk(n.arr, scope);
        const inner = new Scope(scope);
        const target = n.name as NjNode;
        if (target.typename === 'Symbol') {
          // Only a list's items are known: a loop over a dict gives its keys.
          const list = bindingOf(n.arr as NjNode, scope);
          const item = list.kind === 'token' ? [...list.path, '[]'] : undefined;
          bind(inner, target, item && o.isKnown(item) ? { kind: 'token', path: item } : VALUE);
        } else {
          for (const t of (target.children as NjNode[] | undefined) ?? []) bind(inner, t, VALUE);
        }
        inner.define('loop', { kind: 'loop' });
        walk(n.body, inner);
        walk(n.else_, scope);
        return;
      }
      case 'Set': {
        if (n.body) walk(n.body, scope);
        else walk(n.value, scope);
        const targets = n.targets as NjNode[];
        const b = targets.length === 1 && n.value ? bindingOf(n.value as NjNode, scope) : VALUE;
        for (const t of targets) bind(scope, t, b);
        return;
      }
      case 'Macro':
      case 'Caller': {
        if (n.typename === 'Macro') bind(scope, n.name as NjNode, CALLABLE);
        const inner = new Scope(scope);
        if (n.typename === 'Macro') inner.define('caller', CALLABLE);
        for (const arg of ((n.args as NjNode | undefined)?.children as NjNode[] | undefined) ?? []) {
          if (arg.typename === 'Symbol') bind(inner, arg, VALUE);
          else if (arg.typename === 'KeywordArgs') {
            for (const pair of (arg.children as NjNode[] | undefined) ?? []) {
              bind(inner, pair.key as NjNode, VALUE);
              walk(pair.value, scope);
            }
          }
        }
        walk(n.body, inner);
        return;
      }
      case 'Include':
      case 'Extends':
      case 'Import':
      case 'FromImport':
        loaderTags.push({ line: n.lineno + 1, column: n.colno + 1, tag: LOADER_TAGS[n.typename]! });
        if (n.typename === 'Import') scope.define(String((n.target as NjNode).value), VALUE);
        if (n.typename === 'FromImport') {
          for (const pair of ((n.names as NjNode).children as NjNode[] | undefined) ?? []) {
            const alias = pair.typename === 'Pair' ? (pair.value as NjNode) : pair;
            scope.define(String(alias.value), VALUE);
          }
        }
        return;
      case 'CallExtension':
      case 'CallExtensionAsync':
        return;
      default:
        for (const f of n.fields) {
          const v = n[f];
          if (Array.isArray(v)) v.forEach((c) => walk(c, scope));
          else walk(v, scope);
        }
    }
  };

  walk(root, new Scope());
  return { uses, loaderTags, refusals };
}

/** A lookup chain `a.b[0]` as its root and the keys read from it. */
function chain(node: NjNode): { root: NjNode; vals: NjNode[] } {
  const vals: NjNode[] = [];
  let n = node;
  while (n.typename === 'LookupVal') {
    vals.unshift(n.val as NjNode);
    n = n.target as NjNode;
  }
  return { root: n, vals };
}

/** Where an expression starts: nunjucks places a call or a lookup at its bracket. */
function start(node: NjNode): NjNode {
  let n = node;
  while (n.typename === 'LookupVal' || n.typename === 'FunCall') n = (n.typename === 'LookupVal' ? n.target : n.name) as NjNode;
  return n;
}

/** An expression as a person wrote it, roughly, for messages. */
function describe(node: NjNode): string {
  switch (node.typename) {
    case 'Symbol':
      return String(node.value);
    case 'Literal':
      return typeof node.value === 'string' ? JSON.stringify(node.value) : String(node.value);
    case 'LookupVal': {
      const key = (node.val as NjNode).value;
      const target = describe(node.target as NjNode);
      return typeof key === 'string' && /^[A-Za-z_]\w*$/.test(key) ? `${target}.${key}` : `${target}[${JSON.stringify(key) ?? '…'}]`;
    }
    case 'FunCall':
      return `${describe(node.name as NjNode)}(…)`;
    case 'Array':
      return 'a list';
    case 'Dict':
      return 'a dict';
    case 'Filter':
      return `the result of | ${String((node.name as NjNode).value)}`;
    case 'Group':
      return describe(((node.children as NjNode[] | undefined) ?? [])[0] ?? node);
    default:
      return 'this value';
  }
}
