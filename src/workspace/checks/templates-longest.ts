import { clickLink, clicksToken, MAX_LINK_INDEX } from '../../links/tracking.js';
import { compileTemplate } from '../../render/sandbox.js';
import { TOKENS } from '../../render/tokens.js';
import type { Project } from '../model.js';
import { parseNunjucks } from './templates-nunjucks.js';
import { catalogPath, splitToken } from './templates-tokens.js';
import { tokenUses } from './templates-walk.js';

/**
 * A template text rendered with every token at its longest: what an SMS's
 * parts and a push notification's payload are judged by. Lengths come from
 * the token catalog (a text of that many x, a GSM-7 letter), except the
 * site's values, which herald.yaml gives as they are, and links, which
 * tracking replaces with links of a known length.
 */

/** Characters of the token in a short SMS link, <tracking.base_url>/s/<token>. */
export const SHORT_LINK_TOKEN_CHARS = 16;

/** An address herald does not replace (a push icon or image from a token): as long as one can reasonably be. */
export const UNTRACKED_LINK_CHARS = 200;

export interface LongestLinks {
  /** A link in an SMS: the short tracking link every address becomes. */
  short: string;
  /** A push notification's url: the click tracking link it becomes. */
  click: string;
  /** An address kept as it is. */
  untracked: string;
}

export function longestLinks(p: Project): LongestLinks {
  const base = p.tracking.base_url.replace(/\/+$/, '');
  return {
    short: `${base}/s/${'x'.repeat(SHORT_LINK_TOKEN_CHARS)}`,
    // The token's length depends only on the numbers in it: these are the largest a ledger gives.
    click: clickLink(base, clicksToken(Number.MAX_SAFE_INTEGER, 'f'.repeat(16), 'longest'), MAX_LINK_INDEX),
    untracked: `https://${'x'.repeat(UNTRACKED_LINK_CHARS - 'https://'.length)}`,
  };
}

const LONGEST = new Map(TOKENS.map((t) => [t.token, t.longest]));
/** Tokens that are lists: a path goes on through their items. */
const LISTS = new Set(TOKENS.filter((t) => TOKENS.some((u) => u.token.startsWith(`${t.token}[]`))).map((t) => t.token));

/**
 * The longest value of a catalog path, a `*` token standing for any name
 * below it. A site's values are herald.yaml's own, the longest of any site,
 * so a character in them that GSM-7 lacks counts too.
 */
function longestValue(path: readonly string[], p: Project, link: string): string {
  const token = catalogPath(path);
  if (path[0] === 'site' && path.length >= 2 && path[1] !== 'url') {
    const values = p.sites.map((s) => (path[1] === 'brand' ? s.brand?.[path[2] ?? ''] : (s as unknown as Record<string, unknown>)[path[1]!]));
    const texts = values.filter((v) => typeof v === 'string' || typeof v === 'number').map(String);
    if (texts.length > 0) return texts.reduce((a, b) => (b.length > a.length ? b : a));
  }
  const longest = LONGEST.get(token) ?? LONGEST.get(catalogPath([...path.slice(0, -1), '*'])) ?? 40;
  return longest === 'link' ? link : 'x'.repeat(longest);
}

/** How many items a list token has at its longest. */
function listLength(path: readonly string[]): number {
  const longest = LONGEST.get(catalogPath(path));
  return typeof longest === 'number' ? longest : 1;
}

/** The paths a text reads, in catalog notation: `*` tokens only say which names exist once a text uses them. */
function usedPaths(source: string): string[][] {
  const parsed = parseNunjucks(source);
  if (!parsed.ok) return [];
  return tokenUses(parsed.root, { isKnown: () => true, isKey: () => true }).uses.map((u) => u.path);
}

/** Every token of the catalog, and every one the text reads, at its longest; `link` stands for each address. */
export function longestContext(p: Project, source: string, link: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const paths = [...TOKENS.filter((t) => !t.token.includes('*')).map((t) => splitToken(t.token)), ...usedPaths(source)];
  for (const path of paths) put(root, path, 0, p, link);
  return root;
}

function put(node: Record<string, unknown>, path: readonly string[], i: number, p: Project, link: string): void {
  const key = path[i]!;
  if (key === '[]' || key === 'length') return;
  const upTo = path.slice(0, i + 1);
  if (LISTS.has(catalogPath(upTo))) {
    let items = node[key] as Record<string, unknown>[] | undefined;
    if (!Array.isArray(items)) node[key] = items = Array.from({ length: listLength(upTo) }, () => ({}));
    if (path[i + 1] === '[]' && i + 2 < path.length) for (const item of items) put(item, path, i + 2, p, link);
    return;
  }
  if (i === path.length - 1) {
    if (node[key] === undefined || typeof node[key] === 'string') node[key] = longestValue(path, p, link);
    return;
  }
  let next = node[key];
  if (next === null || typeof next !== 'object') node[key] = next = {};
  put(next as Record<string, unknown>, path, i + 1, p, link);
}

/** The text rendered at its longest, or undefined when it does not render (its problems are reported elsewhere). */
export function renderLongest(source: string, file: string, context: Record<string, unknown>): string | undefined {
  try {
    return compileTemplate(source, file, false)(context);
  } catch {
    return undefined;
  }
}
