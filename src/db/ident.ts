/**
 * The only thing ever spliced into SQL text: a schema name from herald.yaml,
 * checked against a strict pattern and quoted. Values always go through `$n`.
 */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a valid identifier: ${name}`);
  return `"${name}"`;
}
