import type { SyntaxNode } from '../../render/template-rules.js';
import { lazily } from '../../lazy.js';

/**
 * A nunjucks text parsed into its syntax tree, which templates-walk.ts reads
 * rather than regular expressions, so loop variables, `{% set %}`, filters
 * and string literals are told apart from tokens; and syntax errors located,
 * also where nunjucks gives no position. Positions are 1-based.
 */

/** The parts of a nunjucks AST node the checks read: the same as the sandbox's. */
export type NjNode = SyntaxNode;

interface LexToken {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}

// @types/nunjucks leaves out the parser and lexer, which nunjucks exports.
interface Nunjucks {
  parser: { parse(src: string): NjNode };
  lexer: { lex(src: string): { nextToken(): LexToken | null } };
}

/** nunjucks, required on the first parse: a warm validate finds every text's findings in the cache and never loads it. */
const nunjucks = lazily<Nunjucks>('nunjucks');

export interface NunjucksSyntaxError {
  line: number;
  column: number;
  message: string;
  hint?: string;
}

export type ParsedNunjucks = { ok: true; root: NjNode } | { ok: false; error: NunjucksSyntaxError };

export function parseNunjucks(text: string): ParsedNunjucks {
  try {
    return { ok: true, root: nunjucks().parser.parse(text) };
  } catch (e) {
    const err = e as { message?: string; lineno?: number; colno?: number };
    const message = `nunjucks syntax: ${(err.message ?? String(e)).replace(/^parse\w*: /, '')}`;
    if (err.lineno !== undefined && err.colno !== undefined) return { ok: false, error: { line: err.lineno, column: err.colno, message } };
    return { ok: false, error: endOfFileError(text, message) };
  }
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
    const lexer = nunjucks().lexer.lex(text);
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
