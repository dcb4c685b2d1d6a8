import type { Site } from '../workspace/model.js';

/**
 * The greeting token: personal when the campaign asks for it and the first name
 * is known, generic otherwise. herald knows a few languages; a site can word
 * its own per locale (sites[].greetings in herald.yaml). Unknown locales fall
 * back to English.
 */
const GREETINGS: Record<string, { personal: string; generic: string }> = {
  en: { personal: 'Dear {first_name},', generic: 'Hello,' },
  ru: { personal: 'Здравствуйте, {first_name}!', generic: 'Здравствуйте!' },
  de: { personal: 'Hallo {first_name},', generic: 'Hallo,' },
};

export function greeting(locale: string, firstName: string | null | undefined, personalized: boolean, site?: Pick<Site, 'greetings'>): string {
  const g = site?.greetings?.[locale] ?? site?.greetings?.[locale.slice(0, 2)] ?? GREETINGS[locale.slice(0, 2)] ?? GREETINGS.en!;
  const name = firstName?.trim();
  return personalized && name ? g.personal.replaceAll('{first_name}', name) : g.generic;
}
