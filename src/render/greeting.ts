/**
 * The greeting token: personal when the campaign asks for it and the first name
 * is known, generic otherwise. One line per locale; unknown locales fall back
 * to English.
 */
const GREETINGS: Record<string, { personal: (name: string) => string; generic: string }> = {
  en: { personal: (n) => `Dear ${n},`, generic: 'Hello,' },
  ru: { personal: (n) => `Здравствуйте, ${n}!`, generic: 'Здравствуйте!' },
  de: { personal: (n) => `Hallo ${n},`, generic: 'Hallo,' },
};

export function greeting(locale: string, firstName: string | null | undefined, personalized: boolean): string {
  const g = GREETINGS[locale.slice(0, 2)] ?? GREETINGS.en!;
  const name = firstName?.trim();
  return personalized && name ? g.personal(name) : g.generic;
}
