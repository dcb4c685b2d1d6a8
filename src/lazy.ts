import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A library loaded the first time it is used, not when a module that names
 * it is imported: what most runs never need (a warm validate's YAML parser,
 * push and phone number libraries in an email send) costs them nothing.
 * Each caller says what loading it costs and who needs it.
 */
export function lazily<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
