import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The known ways out of nunjucks into JavaScript, each written as a template
 * would write it. Every one reaches the Function constructor (or a method)
 * through something nunjucks leaves in reach: its globals, macros and
 * `caller`, the loop object, literals, filter results, plain values of the
 * catalog, or names every JavaScript object inherits. If it ran, the code
 * would write MARK and return the environment's HERALD_SECRET.
 *
 * Shared by the renderer's tests (test/render/sandbox.test.ts) and the
 * validation tests (test/workspace/checks/templates.test.ts): each must be
 * refused by `herald validate` and harmless when rendered anyway.
 */
export const MARK = join(tmpdir(), `herald-escape-${process.pid}`);
export const SECRET = 'escape-test-secret-4f9c1e2b7a3d6e8f0a1b2c3d4e5f6071';

const JS = `return process.getBuiltinModule('fs').writeFileSync('${MARK}', 'x'), process.env.HERALD_SECRET`;
/** The code as a nunjucks string literal. */
const P = JSON.stringify(JS);

/** The code with every character but letters and digits as a \xNN escape: one nunjucks name, to the lexer. */
const HEX = JS.replace(/[^A-Za-z0-9]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
/**
 * A nunjucks string literal whose text closes the compiler's string and calls
 * Function with the code (as \xNN escapes in a JavaScript template string):
 * in a place where the compiler writes a name, `frame.set("…", …)`.
 */
const CLOSING = `"a\\", Function(\`${HEX.replace(/\\/g, '\\\\')}\`)()); (\\"b"`;
/** A test name that closes the compiler's string and calls Function. */
const TEST = `odd")&&Function(${JSON.stringify(JS)})()&&env.getTest("odd`;

export const ESCAPES: readonly { name: string; template: string }[] = [
  // nunjucks' compiler writes these into its JavaScript unescaped: they run before any runtime check.
  { name: 'a name the compiler writes into code', template: `{{ a"^Function\`${HEX}\`\`\`^" }}` },
  { name: 'a test the compiler writes into code', template: `{{ 1 is ${JSON.stringify(TEST)} }}` },
  { name: 'a set target written as a string', template: `{% set ${CLOSING} = 1 %}` },
  { name: 'a block set target written as a string', template: `{% set ${CLOSING} %}x{% endset %}` },
  { name: 'one of several set targets written as a string', template: `{% set x, ${CLOSING} = 1 %}` },
  { name: 'a macro name written as a string', template: `{% macro ${CLOSING}() %}x{% endmacro %}` },
  { name: 'a keyword argument name written as a string', template: `{% macro m(${CLOSING}=1) %}x{% endmacro %}{{ m() }}` },
  { name: 'a name inside a block set', template: `{% set x %}{{ a"^Function\`${HEX}\`\`\`^" }}{% endset %}{{ x }}` },
  { name: 'an async loop shadowing the compiler\'s env', template: `{% asyncEach env in [{ "opts": { "autoescape": false } }] %}{{ "<b>" }}{{ range.constructor(${P})() }}{% endeach %}` },
  { name: 'range.constructor', template: `{{ range.constructor(${P})() }}` },
  { name: 'cycler.constructor', template: `{{ cycler.constructor(${P})() }}` },
  { name: 'joiner.constructor', template: `{{ joiner.constructor(${P})() }}` },
  { name: 'a cycler\'s method', template: `{{ cycler(1, 2).next.constructor(${P})() }}` },
  { name: 'what joiner() returns', template: `{{ joiner().constructor(${P})() }}` },
  { name: 'what range() returns', template: `{{ range(2).constructor.constructor(${P})() }}` },
  { name: 'range.call', template: `{{ range.call.constructor(${P})() }}` },
  { name: 'range["constructor"]', template: `{{ range["constructor"](${P})() }}` },
  { name: 'caller.constructor', template: `{% macro m() %}{{ caller.constructor(${P})() }}{% endmacro %}{% call m() %}x{% endcall %}` },
  { name: 'a macro\'s constructor', template: `{% macro m() %}x{% endmacro %}{{ m.constructor(${P})() }}` },
  { name: 'what a macro returns', template: `{% macro m() %}x{% endmacro %}{{ m().constructor.constructor(${P})() }}` },
  { name: 'a macro argument', template: `{% macro m(f) %}{{ f.constructor(${P})() }}{% endmacro %}{{ m(range) }}` },
  { name: 'loop.constructor', template: `{% for p in products %}{{ loop.constructor.constructor(${P})() }}{% endfor %}` },
  { name: 'a text literal', template: `{{ "".constructor.constructor(${P})() }}` },
  { name: 'a list literal', template: `{{ [].constructor.constructor(${P})() }}` },
  { name: 'a dict literal', template: `{{ {}.constructor.constructor(${P})() }}` },
  { name: 'a dict literal with __proto__', template: `{{ {"__proto__": range}.constructor(${P})() }}` },
  { name: 'a regular expression', template: `{{ r/x/.constructor.constructor(${P})() }}` },
  { name: 'top-level constructor', template: `{{ constructor.constructor(${P})() }}` },
  { name: 'top-level toString', template: `{{ toString.constructor(${P})() }}` },
  { name: 'top-level __proto__', template: `{{ __proto__.constructor.constructor(${P})() }}` },
  { name: 'top-level __lookupGetter__', template: `{{ __lookupGetter__.constructor(${P})() }}` },
  { name: 'top-level valueOf', template: `{{ valueOf.call.constructor(${P})() }}` },
  { name: 'set x = range', template: `{% set x = range %}{{ x.constructor(${P})() }}` },
  { name: 'set x = a macro', template: `{% macro m() %}x{% endmacro %}{% set x = m %}{{ x.constructor(${P})() }}` },
  { name: 'a captured set', template: `{% set x %}a{% endset %}{{ x.constructor.constructor(${P})() }}` },
  { name: 'a token\'s constructor', template: `{{ customer.first_name.constructor.constructor(${P})() }}` },
  { name: 'a token by string key', template: `{{ customer["constructor"]["constructor"](${P})() }}` },
  { name: 'a computed key', template: `{{ customer["constr" + "uctor"]["constr" + "uctor"](${P})() }}` },
  { name: 'customer.__proto__', template: `{{ customer.__proto__.constructor.constructor(${P})() }}` },
  { name: 'a brand value', template: `{{ site.brand.logo_url.constructor.constructor(${P})() }}` },
  { name: 'a product', template: `{% for p in products %}{{ p.constructor.constructor(${P})() }}{% endfor %}` },
  { name: 'a list token', template: `{{ products.constructor.constructor(${P})() }}` },
  { name: 'a filter result', template: `{{ (customer.first_name | upper).constructor.constructor(${P})() }}` },
  { name: 'a filter on range', template: `{{ (range | string).constructor.constructor(${P})() }}` },
  { name: 'a string method', template: `{{ customer.email.toUpperCase.constructor(${P})() }}` },
  { name: 'a string method call', template: `{{ customer.email.concat(${P}) }}` },
  { name: 'dump', template: `{{ range.constructor(${P}) | dump }}` },
  { name: 'join by attribute', template: `{{ [range] | join(",", "constructor") }}` },
  { name: 'a filter by name through select', template: `{{ [range] | select("callable") | first }}` },
  { name: 'printing a function', template: `{{ range }}{{ cycler }}` },
  // A macro's argument the call leaves out is read from its keyword arguments, an object: inherited names answer there.
  { name: 'a macro argument named constructor, the call giving keywords', template: '{% macro m(constructor) %}{{ constructor | string }}{% endmacro %}{{ m(x=1) }}' },
  { name: 'a macro argument named toString, after a positional one', template: '{% macro m(a, toString) %}{{ toString | string }}{% endmacro %}{{ m(1, a=2) }}' },
];
