import nunjucks from 'nunjucks';

/**
 * What a nunjucks text uses, read from its syntax tree rather than with
 * regular expressions, so loop variables, `{% set %}`, filters and string
 * literals are told apart from tokens. Positions are 1-based, in the text given.
 */

/** The parts of a nunjucks AST node this module reads. */
interface NjNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: readonly string[];
  value?: unknown;
  [field: string]: unknown;
}

interface LexToken {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}

// @types/nunjucks leaves out the parser and lexer, which nunjucks exports.
const nj = nunjucks as unknown as {
  parser: { parse(src: string): NjNode };
  lexer: { lex(src: string): { nextToken(): LexToken | null } };
};

export interface NunjucksSyntaxError {
  line: number;
  column: number;
  message: string;
  hint?: string;
}

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
}

/** A tag that needs a nunjucks loader, which herald's templates do not have. */
export interface LoaderTag {
  line: number;
  column: number;
  tag: string;
}

export type ParsedNunjucks = { ok: true; root: NjNode } | { ok: false; error: NunjucksSyntaxError };

export function parseNunjucks(text: string): ParsedNunjucks {
  try {
    return { ok: true, root: nj.parser.parse(text) };
  } catch (e) {
    const err = e as { message?: string; lineno?: number; colno?: number };
    const message = `nunjucks syntax: ${(err.message ?? String(e)).replace(/^parse\w*: /, '')}`;
    if (err.lineno !== undefined && err.colno !== undefined) return { ok: false, error: { line: err.lineno, column: err.colno, message } };
    return { ok: false, error: endOfFileError(text, message) };
  }
}

// Globals nunjucks itself provides.
const GLOBALS = new Set(['range', 'cycler', 'joiner', 'caller']);
const LOADER_TAGS: Record<string, string> = { Include: 'include', Extends: 'extends', Import: 'import', FromImport: 'from … import' };

/** A variable's meaning: the catalog path it stands for, or null when the catalog cannot say (loop, macro arguments). */
type Binding = readonly string[] | null;

class Scope {
  private readonly vars = new Map<string, Binding>();
  constructor(private readonly parent?: Scope) {}
  define(name: string, b: Binding): void {
    this.vars.set(name, b);
  }
  lookup(name: string): Binding | undefined {
    return this.vars.has(name) ? this.vars.get(name) : this.parent?.lookup(name);
  }
}

/**
 * Every token the template reads, and every tag that needs a loader.
 * `isKnown` says whether a catalog path exists in every context of the
 * template: a loop over an unknown list is reported once, at the loop, and its
 * variable is then left unchecked.
 */
export function tokenUses(root: NjNode, isKnown: (path: readonly string[]) => boolean): { uses: TokenUse[]; loaderTags: LoaderTag[] } {
  const uses: TokenUse[] = [];
  const loaderTags: LoaderTag[] = [];

  /** A Symbol or LookupVal as its root variable plus literal keys; undefined when the root is not a variable. */
  const reference = (node: NjNode): { root: NjNode; keys: (string | number)[]; dynamic: NjNode[] } | undefined => {
    const chain: NjNode[] = [];
    let n = node;
    while (n.typename === 'LookupVal') {
      chain.unshift(n.val as NjNode);
      n = n.target as NjNode;
    }
    if (n.typename !== 'Symbol') return undefined;
    const keys: (string | number)[] = [];
    const dynamic: NjNode[] = [];
    for (const val of chain) {
      if (dynamic.length === 0 && val.typename === 'Literal' && (typeof val.value === 'string' || typeof val.value === 'number')) keys.push(val.value);
      // A computed key (customer[column]) cannot be checked; what precedes it still can.
      else dynamic.push(val);
    }
    return { root: n, keys, dynamic };
  };

  const pathKeys = (keys: readonly (string | number)[]) => keys.map((k) => (typeof k === 'number' ? '[]' : k));

  /** The catalog path a reference stands for, for binding a loop or set variable. */
  const bindingOf = (node: NjNode, scope: Scope): Binding => {
    const ref = reference(node);
    if (!ref || ref.dynamic.length > 0) return null;
    const name = String(ref.root.value);
    const bound = scope.lookup(name);
    const base = bound === undefined ? (GLOBALS.has(name) ? null : [name]) : bound;
    if (base === null) return null;
    const path = [...base, ...pathKeys(ref.keys)];
    return isKnown(path) ? path : null;
  };

  const use = (node: NjNode, scope: Scope) => {
    const ref = reference(node)!;
    for (const d of ref.dynamic) walk(d, scope);
    const name = String(ref.root.value);
    const bound = scope.lookup(name);
    if (bound === null || (bound === undefined && GLOBALS.has(name))) return;
    const at = { line: ref.root.lineno + 1, column: ref.root.colno + 1, name, keys: ref.keys };
    if (bound === undefined) uses.push({ ...at, path: [name, ...pathKeys(ref.keys)] });
    else uses.push({ ...at, path: [...bound, ...pathKeys(ref.keys)], via: bound });
  };

  const walk = (node: unknown, scope: Scope): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as NjNode;
    switch (n.typename) {
      case 'Symbol':
      case 'LookupVal':
        if (reference(n)) use(n, scope);
        else {
          walk(n.target, scope);
          walk(n.val, scope);
        }
        return;
      case 'Literal':
      case 'TemplateData':
        return;
      case 'Filter':
      case 'FilterAsync':
        // The filter's name is not a variable.
        walk(n.args, scope);
        return;
      case 'FunCall':
        // Macros and nunjucks' global functions are in scope; anything else is a token.
        walk(n.name, scope);
        walk(n.args, scope);
        return;
      case 'Is': {
        walk(n.left, scope);
        // The right side names a test (defined, odd); only a call's arguments are expressions.
        const test = n.right as NjNode;
        if (test.typename === 'FunCall') walk(test.args, scope);
        return;
      }
      case 'Pair': {
        // A dict's bare key or a keyword argument's name is not a variable.
        const key = n.key as NjNode;
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
          const item = list ? [...list, '[]'] : null;
          inner.define(String(target.value), item && isKnown(item) ? item : null);
        } else {
          for (const t of (target.children as NjNode[] | undefined) ?? []) inner.define(String(t.value), null);
        }
        inner.define('loop', null);
        walk(n.body, inner);
        walk(n.else_, scope);
        return;
      }
      case 'Set': {
        if (n.body) walk(n.body, scope);
        else walk(n.value, scope);
        const targets = n.targets as NjNode[];
        const b = targets.length === 1 && n.value ? bindingOf(n.value as NjNode, scope) : null;
        for (const t of targets) scope.define(String(t.value), b);
        return;
      }
      case 'Macro':
      case 'Caller': {
        if (n.typename === 'Macro') scope.define(String((n.name as NjNode).value), null);
        const inner = new Scope(scope);
        for (const arg of ((n.args as NjNode | undefined)?.children as NjNode[] | undefined) ?? []) {
          if (arg.typename === 'Symbol') inner.define(String(arg.value), null);
          else if (arg.typename === 'KeywordArgs') {
            for (const pair of (arg.children as NjNode[] | undefined) ?? []) {
              inner.define(String((pair.key as NjNode).value), null);
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
        if (n.typename === 'Import') scope.define(String((n.target as NjNode).value), null);
        if (n.typename === 'FromImport') {
          for (const pair of ((n.names as NjNode).children as NjNode[] | undefined) ?? []) {
            const alias = pair.typename === 'Pair' ? (pair.value as NjNode) : pair;
            scope.define(String(alias.value), null);
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
  return { uses, loaderTags };
}

const OPENERS = new Set(['if', 'for', 'asyncEach', 'asyncAll', 'macro', 'call', 'filter', 'block', 'switch', 'set']);
const CLOSERS: Record<string, string> = {
  endif: 'if',
  endfor: 'for',
  endeach: 'asyncEach',
  endall: 'asyncAll',
  endmacro: 'macro',
  endcall: 'call',
  endfilter: 'filter',
  endblock: 'block',
  endswitch: 'switch',
  endset: 'set',
};

/**
 * nunjucks gives no position when the text ends inside a tag or block, which
 * is where an unclosed {% if %} ends up. Find the block left open, or else the
 * last tag opened, by lexing the text again.
 */
function endOfFileError(text: string, message: string): NunjucksSyntaxError {
  const open: { tag: string; line: number; column: number }[] = [];
  let lastStart: { line: number; column: number } | undefined;
  try {
    const lexer = nj.lexer.lex(text);
    const tokens: LexToken[] = [];
    for (let t = lexer.nextToken(); t; t = lexer.nextToken()) if (t.type !== 'whitespace') tokens.push(t);
    tokens.forEach((t, i) => {
      if (t.type === 'block-start' || t.type === 'variable-start' || t.type === 'comment') lastStart = { line: t.lineno + 1, column: t.colno + 1 };
      if (t.type !== 'block-start') return;
      const name = tokens[i + 1]?.value ?? '';
      if (OPENERS.has(name)) {
        // {% set x = 1 %} is complete; only {% set x %}…{% endset %} opens a block.
        const end = tokens.findIndex((u, j) => j > i && u.type === 'block-end');
        const assigns = tokens.slice(i + 1, end === -1 ? undefined : end).some((u) => u.type === 'operator' && u.value === '=');
        if (name !== 'set' || !assigns) open.push({ tag: name, line: t.lineno + 1, column: t.colno + 1 });
      } else if (CLOSERS[name] && open.at(-1)?.tag === CLOSERS[name]) {
        open.pop();
      }
    });
  } catch {
    // The lexer failed where the parser did; fall back to the last tag seen.
  }
  const block = open.at(-1);
  if (block) return { line: block.line, column: block.column, message: `nunjucks syntax: {% ${block.tag} %} is never closed`, hint: `add {% end${block.tag === 'asyncEach' ? 'each' : block.tag === 'asyncAll' ? 'all' : block.tag} %}` };
  if (lastStart) return { ...lastStart, message, hint: 'this tag, or a string in it, is not closed' };
  const lines = text.split('\n');
  return { line: lines.length, column: lines.at(-1)!.length + 1, message };
}
