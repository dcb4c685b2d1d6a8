import { createRequire } from 'node:module';
import nunjucks from 'nunjucks';
import { UserError } from '../errors.js';
import { FILTERS, namesSymbol, RANGE_MAX, RESERVED, TESTS, unsafeSyntax, type SyntaxNode } from './template-rules.js';

/**
 * nunjucks' runtime makes SafeString.prototype with
 * `Object.create(String.prototype, …)` when it loads, and V8 (Node 20)
 * turns a prototype given to Object.create into a dictionary: from then on
 * every call of a string method (indexOf, slice, charCodeAt, trim) in the
 * process looks the method up by hash, not at a fixed place, and a loop
 * over a text's characters ran three times slower (tidying a text part:
 * 2.1 µs before nunjucks loaded, 6.5 µs after). V8 lays a prototype out
 * fast again when an object that inherits from it gets a property of its
 * own, which this does once, here, after nunjucks has loaded.
 */
function stringMethodsFast(): void {
  const probe = Object.create(String.prototype) as Record<string, unknown>;
  probe.laidOut = true;
}
stringMethodsFast();

/**
 * nunjucks compiles a template to JavaScript, and out of the box that
 * JavaScript reaches whatever a value inherits: `range.constructor` is
 * Function, so `{{ range.constructor("…")() }}` runs any code with herald's
 * environment (its secrets) and file system. nunjucks is not a sandbox. Here
 * it gets a runtime of our own, which the compiled code goes through for
 * every value it reads, calls or prints:
 *
 * - a member is an own data property of a plain value (an object's key, an
 *   item or the length of a list, the length of a text), never an inherited
 *   one, never a function, never a name every object has (RESERVED);
 * - a name is a token of the message, a variable the template set, or
 *   `range`; contexts and frames have no prototype;
 * - only macros, `caller()` and `range()` can be called. Macros are handed to
 *   the template as opaque tokens, never as JavaScript functions, so no
 *   filter or lookup can turn one into Function;
 * - only the filters in FILTERS and the tests in TESTS exist;
 * - no loader: include, import and extends fail;
 * - and before all that, nothing is compiled whose names nunjucks' compiler
 *   would write into its JavaScript unescaped (unsafeSyntax).
 *
 * `herald validate` refuses the same things with a located error, from the
 * same lists (template-rules.ts); this module holds when a template never
 * went through it: a deployed spec, or a working copy mid-edit in
 * `preview --serve`.
 */

// @types/nunjucks leaves out the compiler, runtime and lib, which nunjucks exports.
interface NunjucksRuntime {
  Frame: new (parent?: unknown, isolateWrites?: boolean) => Frame;
  SafeString: new (s: string) => { val: string; length: number };
  makeMacro(argNames: string[], kwargNames: string[], func: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown;
  [name: string]: unknown;
}
interface Frame {
  variables: Record<string, unknown>;
  parent: Frame | undefined;
  topLevel: boolean;
  set(name: string, val: unknown, resolveUp?: boolean): void;
  /** The frame that holds `name`, up to the first that isolates writes when `forWrite`. */
  resolve(name: string, forWrite?: boolean): Frame | undefined;
  lookup(name: string): unknown;
  push(isolateWrites?: boolean): Frame;
}
type Callback = (err: unknown, res?: string) => void;
type RootFunc = (env: object, context: object, frame: Frame, runtime: object, cb: Callback) => void;
/** The compiler's parts used here; the loop-binding method is replaced per compiler (compile below). */
interface NunjucksCompiler {
  compile(tree: SyntaxNode): void;
  getCode(): string;
  _emitLine(code: string): void;
  _emitLoopBindings(node: unknown, arr: string, i: string, length: string): void;
}
const nj = nunjucks as unknown as {
  parser: { parse(src: string): SyntaxNode };
  compiler: { Compiler: new (name: string, throwOnUndefined: boolean) => NunjucksCompiler };
  runtime: NunjucksRuntime;
};
// Not exported by nunjucks' index; the step its compile() takes between parsing and compiling.
const transformer = createRequire(import.meta.url)('nunjucks/src/transformer.js') as { transform(tree: SyntaxNode, asyncFilters: string[], name: string): SyntaxNode };
const base = nj.runtime;
const { SafeString } = base;
const hasOwn = Object.prototype.hasOwnProperty;

/** A problem met while rendering; nunjucks adds where it happened. */
class RenderRefusal extends Error {
  lineno?: number;
  colno?: number;
}

/**
 * Macros, `caller` and `range` as the template sees them: an empty frozen
 * object with no prototype. Only callWrap knows the function behind it.
 */
const CALLABLE = new WeakMap<object, (...args: unknown[]) => unknown>();
function callable(fn: (...args: unknown[]) => unknown): object {
  const token = Object.freeze(Object.create(null) as object);
  CALLABLE.set(token, fn);
  return token;
}

function range(...args: unknown[]): number[] {
  if (!args.every((a) => typeof a === 'number' && Number.isFinite(a))) throw new RenderRefusal('range() takes numbers: range(stop) or range(start, stop, step)');
  let [start, stop, step] = args as number[];
  if (stop === undefined) [start, stop, step] = [0, start!, 1];
  else if (!step) step = 1;
  const count = Math.max(0, Math.ceil((stop - start!) / step));
  if (count > RANGE_MAX) throw new RenderRefusal(`range() gives at most ${RANGE_MAX.toLocaleString('en')} numbers`);
  return Array.from({ length: count }, (_, i) => start! + i * step!);
}

/** The globals a template has, and nothing a prototype adds. */
const GLOBALS: Readonly<Record<string, unknown>> = Object.freeze(Object.assign(Object.create(null) as Record<string, unknown>, { range: callable(range as (...args: unknown[]) => unknown) }));

/**
 * `loop` inside `{% for %}`. nunjucks' compiled code sets its seven fields
 * per iteration, each through Frame.set, which splits the name at dots every
 * time, into an object without a prototype, whose every field is a
 * dictionary entry: half the cost of a product grid. Here the compiler
 * writes one call per iteration (frame.setLoop, see compileTemplate), which
 * sets the fields of one object of this class per loop, as nunjucks sets
 * those of its one object. Its prototype has no prototype either, so the
 * object answers to nothing but its fields (memberLookup reads own fields
 * only, whatever the prototype).
 */
class LoopVars {
  index = 0;
  index0 = 0;
  revindex = 0;
  revindex0 = 0;
  first = false;
  last = false;
  length = 0;
}
Object.setPrototypeOf(LoopVars.prototype, null);

/**
 * Frames with the compiled code's variables. Every name the compiled code
 * sets is a plain identifier (unsafeSyntax refuses any other, and `loop.*`
 * goes through setLoop), which set writes without nunjucks' split at dots.
 */
class SandboxFrame extends base.Frame {
  private loop: LoopVars | undefined;
  /** The iteration `i` of a loop over `length` items: what nunjucks' seven `frame.set("loop.…")` lines set. */
  setLoop(i: number, length: number): void {
    let loop = this.loop;
    if (loop === undefined || this.variables.loop !== loop) {
      loop = new LoopVars();
      this.loop = loop;
      this.variables.loop = loop;
    }
    loop.index = i + 1;
    loop.index0 = i;
    loop.revindex = length - i;
    loop.revindex0 = length - i - 1;
    loop.first = i === 0;
    loop.last = i === length - 1;
    loop.length = length;
  }
  /**
   * nunjucks' set, without splitting the name at dots on every call (an
   * array a loop iteration and a `{% set %}`, 8% of a render): every name
   * the compiled code sets here is a plain identifier (unsafeSyntax), and
   * one with a dot goes to nunjucks' own.
   */
  override set(name: string, val: unknown, resolveUp?: boolean): void {
    if (name.includes('.')) return super.set(name, val, resolveUp);
    const frame = (resolveUp && this.resolve(name, true)) || this;
    frame.variables[name] = val;
  }
  override push(isolateWrites?: boolean): Frame {
    return new SandboxFrame(this, isolateWrites);
  }
}

/** nunjucks' Context, reduced to what the compiled code of a loader-less template uses. */
class SandboxContext {
  private vars: Record<string, unknown> | undefined;
  constructor(
    private readonly data: Record<string, unknown>,
    private readonly blocks: Record<string, RootFunc>,
  ) {}
  lookup(name: string): unknown {
    const vars = this.vars;
    if (vars !== undefined && name in vars) return vars[name];
    if (hasOwn.call(this.data, name) && !RESERVED.has(name)) return dataValue(this.data[name]);
    return GLOBALS[name];
  }
  setVariable(name: string, val: unknown): void {
    (this.vars ??= Object.create(null) as Record<string, unknown>)[name] = val;
  }
  getVariables(): Record<string, unknown> {
    return Object.assign(Object.create(null) as Record<string, unknown>, this.data, this.vars);
  }
  addExport(): void {}
  getBlock(name: string): RootFunc {
    if (!hasOwn.call(this.blocks, name)) throw new RenderRefusal(`unknown block "${name}"`);
    return this.blocks[name]!;
  }
  getSuper(): never {
    throw new RenderRefusal('{{ super() }} needs {% extends %}, which herald templates do not have');
  }
}

/** Data never holds functions; if some did, a template would not get it. */
const dataValue = (v: unknown): unknown => (typeof v === 'function' ? undefined : v);

const isIndex = (key: unknown): boolean => typeof key === 'number' || (typeof key === 'string' && /^\d+$/.test(key));

/** `obj.key` and `obj[key]`: own data only. */
function memberLookup(obj: unknown, key: unknown): unknown {
  if (obj === null || obj === undefined) return undefined;
  if (typeof obj === 'string') return key === 'length' ? obj.length : isIndex(key) ? obj[Number(key)] : undefined;
  if (typeof obj !== 'object') return undefined;
  if (obj instanceof SafeString) return memberLookup(obj.val, key);
  if (typeof key !== 'string' && typeof key !== 'number') return undefined;
  if (RESERVED.has(key as string) || !hasOwn.call(obj, key)) return undefined;
  return dataValue((obj as Record<string | number, unknown>)[key]);
}

function contextOrFrameLookup(context: SandboxContext, frame: Frame, name: string): unknown {
  const v = frame.lookup(name);
  return v !== undefined ? v : context.lookup(name);
}

function callWrap(obj: unknown, name: string, context: unknown, args: unknown[]): unknown {
  const fn = typeof obj === 'object' && obj !== null ? CALLABLE.get(obj) : undefined;
  if (!fn) throw new RenderRefusal(`cannot call ${name}: only macros, caller() and range() can be called in a template`);
  return fn.apply(context, args);
}

/** What `{{ value }}` prints. A macro prints nothing, where nunjucks would print its JavaScript source. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined || typeof v === 'function') return '';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(text).join(',');
  if (CALLABLE.has(v) || Object.getPrototypeOf(v) === null || v instanceof LoopVars) return '';
  return String(v);
}

function suppressValue(val: unknown, autoescape: boolean): unknown {
  if (typeof val === 'string') return autoescape ? escapeHtml(val) : val;
  if (val instanceof SafeString) return val;
  return autoescape ? escapeHtml(text(val)) : text(val);
}

/**
 * nunjucks' escape (lib.escape: & " ' < > and backslash), character for
 * character. Most values printed have none of them (a name, a link): a test
 * without the global flag finds that in about half the time nunjucks'
 * replace with a function takes to return the value unchanged.
 */
export function escapeHtml(s: string): string {
  return HAS_ESCAPABLE.test(s) ? s.replace(ESCAPABLE, (c) => ESCAPES[c]!) : s;
}
const HAS_ESCAPABLE = /[&"'<>\\]/;
const ESCAPABLE = /[&"'<>\\]/g;
const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '"': '&quot;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '\\': '&#92;' };

/** `key in value`: a list's item, a text's part, an object's own key. */
function inOperator(key: unknown, val: unknown): boolean {
  if (Array.isArray(val)) return val.includes(key);
  if (typeof val === 'string') return val.includes(String(key));
  if (val instanceof SafeString) return val.val.includes(String(key));
  if (typeof val === 'object' && val !== null) return typeof key === 'string' && !RESERVED.has(key) && hasOwn.call(val, key);
  throw new RenderRefusal(`cannot use "in" with ${typeof val}`);
}

function handleError(error: unknown, lineno: number, colno: number): RenderRefusal {
  if (error instanceof RenderRefusal && error.lineno !== undefined) return error;
  const e = error instanceof RenderRefusal ? error : new RenderRefusal(error instanceof Error ? error.message : String(error));
  e.lineno = lineno;
  e.colno = colno;
  return e;
}

const runtime = Object.freeze({
  ...base,
  Frame: SandboxFrame,
  makeMacro: (argNames: string[], kwargNames: string[], func: (...args: unknown[]) => unknown) => callable(base.makeMacro(argNames, kwargNames, func)),
  memberLookup,
  contextOrFrameLookup,
  callWrap,
  suppressValue,
  inOperator,
  handleError,
});

/** nunjucks' own filters and tests, from which the allowed ones are taken. */
const builtIn = new nunjucks.Environment() as unknown as Record<'filters' | 'tests', Record<string, (...args: unknown[]) => unknown>>;

/** The allowed filters, each given at most its own arguments. */
function filterTable(html: boolean): Readonly<Record<string, (...args: unknown[]) => unknown>> {
  const all = builtIn.filters;
  const out = Object.create(null) as Record<string, (...args: unknown[]) => unknown>;
  // `sort` reads this.env.opts, as nunjucks calls filters on its context.
  const self = Object.freeze({ env: Object.freeze({ opts: Object.freeze({ throwOnUndefined: false }) }) });
  for (const [name, max] of Object.entries(FILTERS)) {
    const f = all[name]!;
    const inserted = html ? INSERTED[name] : undefined;
    out[name] =
      inserted === undefined
        ? (...args: unknown[]) => f.apply(self, args.slice(0, max + 1))
        : (...args: unknown[]) => {
            const a = args.slice(0, max + 1);
            const v = a[inserted];
            if (a[0] instanceof SafeString && v !== undefined && v !== null && !(v instanceof SafeString)) a[inserted] = escapeHtml(text(v));
            return f.apply(self, a);
          };
  }
  return Object.freeze(out);
}

/**
 * Filters that put one of their arguments into their input: replace's
 * replacement, truncate's ending. nunjucks keeps text the template marked
 * safe (a macro's output, caller()) safe through them, so in the HTML a
 * token's value put in that way would arrive as markup, a customer named
 * `<a href=…>` as a link. There the argument is escaped unless it is safe
 * too, as Jinja's Markup does; the template's own markup stays markup.
 */
const INSERTED: Readonly<Record<string, number>> = { replace: 2, truncate: 3 };

const filters = { html: filterTable(true), text: filterTable(false) };
const tests: Readonly<Record<string, (...args: unknown[]) => unknown>> = (() => {
  const all = builtIn.tests;
  return Object.freeze(Object.fromEntries([...TESTS].map((t) => [t, all[t]!])));
})();

function environment(autoescape: boolean): object {
  const table = autoescape ? filters.html : filters.text;
  return Object.freeze({
    opts: Object.freeze({ autoescape, throwOnUndefined: false, dev: false }),
    getFilter(name: string) {
      if (!hasOwn.call(table, name)) throw new RenderRefusal(`filter "${name}" is not allowed`);
      return table[name];
    },
    getTest(name: string) {
      if (!hasOwn.call(tests, name)) throw new RenderRefusal(`test "${name}" is not allowed`);
      return tests[name];
    },
    getTemplate() {
      throw new RenderRefusal('include, import and extends need a template loader, which herald templates do not have');
    },
    getExtension(name: string) {
      throw new RenderRefusal(`unknown tag extension "${name}"`);
    },
  });
}
const environments = { html: environment(true), text: environment(false) };

/**
 * What nunjucks.compiler.compile does (3.2: transform the tree, compile it),
 * from the tree already parsed, with one change: a loop's `loop.*` fields
 * are set by one call per iteration (SandboxFrame.setLoop), and not at all
 * when the template never names `loop`.
 */
function compile(tree: SyntaxNode, file: string): string {
  const c = new nj.compiler.Compiler(file, false);
  const readsLoop = namesSymbol(tree, 'loop');
  c._emitLoopBindings = (_node, _arr, i, length) => {
    if (readsLoop) c._emitLine(`frame.setLoop(${i}, ${length});`);
  };
  c.compile(transformer.transform(tree, [], file));
  return c.getCode();
}

const HINT = 'run `herald validate`: it points at the place and lists what templates can use';

/**
 * Compiles one template text, once; the function renders it for one
 * recipient's tokens. `html` escapes every value printed. Errors, at compile
 * or render time, are UserErrors naming `file`.
 */
export function compileTemplate(source: string, file: string, html: boolean): (data: object) => string {
  let code: string;
  try {
    const tree = nj.parser.parse(source);
    const unsafe = unsafeSyntax(tree)[0];
    // Positions as nunjucks' parser reports its own errors: 1-based.
    if (unsafe) throw Object.assign(new Error(unsafe.message), { lineno: unsafe.node.lineno + 1, colno: unsafe.node.colno + 1 });
    code = compile(tree, file);
  } catch (e) {
    const err = e as { message?: string; lineno?: number; colno?: number };
    const at = err.lineno !== undefined ? `:${err.lineno}:${err.colno ?? 1}` : '';
    throw new UserError(`${file}${at}: nunjucks syntax: ${String(err.message ?? e).replace(/^\([^)]*\)\s*(\[[^\]]*\])?\s*/, '')}`, HINT);
  }
  // The same compilation nunjucks.Template does, without its environment, context or runtime.
  const props = new Function(code)() as Record<string, RootFunc>;
  const blocks = Object.create(null) as Record<string, RootFunc>;
  for (const [k, f] of Object.entries(props)) if (k.startsWith('b_')) blocks[k.slice(2)] = f;
  const root = props.root!;
  const env = html ? environments.html : environments.text;
  return (data) => {
    const frame = new SandboxFrame();
    frame.topLevel = true;
    let out = '';
    let failure: unknown;
    root(env, new SandboxContext(data as Record<string, unknown>, blocks), frame, runtime, (err, res) => {
      if (err) failure ??= err;
      else out = res ?? '';
    });
    if (failure !== undefined) {
      const e = failure as RenderRefusal;
      throw new UserError(`${file}: cannot render: ${e.message}`, HINT);
    }
    return out;
  };
}
