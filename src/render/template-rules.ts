/**
 * What a template may use, shared by the two layers that hold it to that:
 * `herald validate` (workspace/checks/templates-walk.ts), which refuses
 * anything else at its place, and the renderer (render/sandbox.ts), which
 * cannot reach anything else whatever a template says.
 */

/**
 * The filters a template may use, with how many arguments each takes after
 * the value. Left out on purpose: `safe` (it would print data as markup, so a
 * customer named "<script>" would run), `urlize` (links made from data, past
 * the link check), `dump` and `list` (print structures, not tokens), `random`
 * (a different message on every render), the filters that read attributes or
 * tests by name (`groupby`, `selectattr`, `rejectattr`, `select`, `reject`,
 * `sum`, `dictsort`), and those that repeat text by a number (`center`,
 * `indent`, `slice`), which a typo turns into gigabytes.
 */
export const FILTERS: Readonly<Record<string, number>> = Object.freeze({
  abs: 0,
  batch: 2,
  capitalize: 0,
  d: 2,
  default: 2,
  e: 0,
  escape: 0,
  first: 0,
  float: 1,
  forceescape: 0,
  int: 1,
  join: 1,
  last: 0,
  length: 0,
  lower: 0,
  nl2br: 0,
  replace: 3,
  reverse: 0,
  round: 2,
  sort: 2,
  string: 0,
  striptags: 1,
  title: 0,
  trim: 0,
  truncate: 3,
  upper: 0,
  urlencode: 0,
  wordcount: 0,
});

/** The tests `x is …` may use: each only answers yes or no. */
export const TESTS: ReadonlySet<string> = new Set([
  'defined', 'undefined', 'null', 'truthy', 'falsy', 'odd', 'even', 'divisibleby', 'number', 'string', 'lower', 'upper',
  'iterable', 'mapping', 'escaped', 'equalto', 'eq', 'sameas', 'ne', 'ge', 'gt', 'greaterthan', 'le', 'lt', 'lessthan',
]);

/** The one function a template has besides its own macros: `range(stop)`, `range(start, stop[, step])`. */
export const FUNCTIONS: ReadonlySet<string> = new Set(['range']);
/** More numbers than any message needs, few enough that a typo cannot exhaust memory. */
export const RANGE_MAX = 1000;

/** What `loop` holds inside `{% for %}`. */
export const LOOP_KEYS: readonly string[] = ['index', 'index0', 'revindex', 'revindex0', 'first', 'last', 'length'];

/** A name as nunjucks' compiler may write it into JavaScript: a plain identifier. */
export const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The parts of a nunjucks syntax tree node read here. */
export interface SyntaxNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: readonly string[];
  value?: unknown;
  [field: string]: unknown;
}

/** A place a template may not be compiled with. */
export interface UnsafeSyntax {
  /** A name that is no plain identifier (or, where a tag names something, no name at all), a test not given by name, an async loop, a call of what is not a name, a name bound that every object has. */
  kind: 'name' | 'test' | 'tag' | 'call' | 'reserved';
  node: SyntaxNode;
  message: string;
  hint: string;
}

/**
 * nunjucks' compiler (3.2) writes some parts of a template into the
 * JavaScript it generates as they are, unescaped: every name (a variable, a
 * filter, a macro's or a loop's variable), the test in `x is …` (which may be
 * written as a string), and the written form of what a call calls. The lexer
 * takes `a"^Function`…```^"` for one name, so `{{ a"^Function`…```^" }}`
 * would run as code before any check of the runtime (sandbox.ts), and the
 * parser takes a string where `set` or `macro` names what it makes, so
 * `{% set "a\", Function(…)()); (\"b" = 1 %}` would too. A template with
 * anything but a plain name in those places is never compiled; validation
 * reports each place. Nor is an async loop, which binds its names as
 * JavaScript parameters.
 */
export function unsafeSyntax(root: SyntaxNode): UnsafeSyntax[] {
  const out: UnsafeSyntax[] = [];
  walk(root, (n) => {
    if (n.typename === 'Symbol' && !NAME.test(String(n.value))) {
      out.push({ kind: 'name', node: n, message: `${JSON.stringify(String(n.value))} is not a name`, hint: 'a name is letters, digits and _; quote text: "like this"' });
    }
    // Where a name goes, only a name: a string there would be written into the code as it is.
    for (const target of namePlaces(n)) {
      if (target.typename !== 'Symbol') out.push({ kind: 'name', node: target, message: `{% ${TAGS[n.typename] ?? n.typename.toLowerCase()} %} takes a name here, not ${target.typename === 'Literal' ? 'a string' : 'an expression'}`, hint: 'a name is letters, digits and _, without quotes: {% set total = 1 %}' });
      // A macro's argument the call leaves out is read from its keyword arguments, an
      // object, where `constructor` or `toString` answers with JavaScript's own function.
      else if (RESERVED.has(String(target.value))) out.push({ kind: 'reserved', node: target, message: `"${String(target.value)}" cannot be a variable's name`, hint: 'pick another name' });
    }
    if (n.typename === 'Is') {
      const test = n.right as SyntaxNode;
      const named = test.typename === 'Symbol' || (test.typename === 'FunCall' && (test.name as SyntaxNode).typename === 'Symbol') || (test.typename === 'Literal' && test.value === null);
      if (!named) out.push({ kind: 'test', node: test, message: 'a test is named, not written as a string or an expression', hint: 'write x is odd, x is divisibleby(3)' });
    }
    if (n.typename === 'AsyncEach' || n.typename === 'AsyncAll') {
      // Their compiled code takes the loop's names as JavaScript parameters, which can shadow the compiler's own (env, runtime).
      out.push({ kind: 'tag', node: n, message: `{% ${n.typename === 'AsyncEach' ? 'asyncEach' : 'asyncAll'} %} is not available in herald templates`, hint: 'use {% for %}' });
    }
    if (n.typename === 'FunCall' && (n.name as SyntaxNode).typename !== 'Symbol') {
      out.push({ kind: 'call', node: n.name as SyntaxNode, message: 'only a name can be called', hint: 'a template calls only its own macros, caller() inside a macro, and range()' });
    }
  });
  return out;
}

/** The tags whose names nunjucks' compiler writes into its code, as a template writes them. */
const TAGS: Readonly<Record<string, string>> = { Set: 'set', Macro: 'macro', Caller: 'call', For: 'for', Import: 'import', FromImport: 'from', Block: 'block' };

/**
 * The nodes of a tag that the compiler writes into its code as names
 * (`frame.set("…", …)`, a macro's and its arguments' names, an import's):
 * each must be a Symbol, whose value the rule above checks. The parser
 * takes any expression for some of them, a string literal too.
 */
function namePlaces(n: SyntaxNode): SyntaxNode[] {
  const children = (x: unknown) => ((x as SyntaxNode | undefined)?.children as SyntaxNode[] | undefined) ?? [];
  switch (n.typename) {
    case 'Set':
      return n.targets as SyntaxNode[];
    case 'Macro':
    case 'Caller':
      // Positional arguments, then the keyword arguments' names.
      return [n.name as SyntaxNode, ...children(n.args).flatMap((a) => (a.typename === 'KeywordArgs' ? children(a).map((pair) => pair.key as SyntaxNode) : [a]))];
    case 'For':
      return (n.name as SyntaxNode).typename === 'Array' ? children(n.name) : [n.name as SyntaxNode];
    case 'Import':
      return [n.target as SyntaxNode];
    case 'FromImport':
      return children(n.names).flatMap((x) => (x.typename === 'Pair' ? [x.key as SyntaxNode, x.value as SyntaxNode] : [x]));
    case 'Block':
      return [n.name as SyntaxNode];
    default:
      return [];
  }
}

/**
 * Every node of a syntax tree, parents before their children: every node a
 * node holds, not only those its `fields` list (a block set's body is not
 * among a Set's fields, and nothing in it would be seen).
 */
export function walk(root: SyntaxNode, visit: (n: SyntaxNode) => void): void {
  visit(root);
  for (const v of Object.values(root)) {
    for (const c of Array.isArray(v) ? v : [v]) if (c && typeof c === 'object' && typeof (c as SyntaxNode).typename === 'string') walk(c as SyntaxNode, visit);
  }
}

/** Whether a template ever names `name` (reads it, sets it, loops over it): a template has no other way to reach a variable. */
export function namesSymbol(root: SyntaxNode, name: string): boolean {
  let found = false;
  walk(root, (n) => {
    if (n.typename === 'Symbol' && n.value === name) found = true;
  });
  return found;
}

/**
 * Names every JavaScript object or function answers to, whatever its data:
 * never a token, never a key a template may read, never a name it may bind.
 */
export const RESERVED: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'apply', 'bind', 'call']);
