/**
 * Money and dates as a message shows them, per locale: the one formatting of
 * prices, totals and order dates for sends and previews alike.
 *
 * A formatter costs ~60 µs to make, as much as the rest of a message's
 * tokens, so each (locale, currency) and (locale, time zone) gets one.
 */

const moneyFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** "€1,234.50", "1 234,50 ₽": an amount in `currency` (ISO 4217) for `locale`. */
export function money(amount: number | string, currency: string, locale: string): string {
  const key = `${locale}\0${currency}`;
  let f = moneyFormats.get(key);
  if (!f) moneyFormats.set(key, (f = new Intl.NumberFormat(locale, { style: 'currency', currency })));
  return f.format(Number(amount));
}

/** "November 18, 2026", "18 ноября 2026 г.": the day of `at` in `timeZone`, for `locale`. */
export function dateText(at: Date | string, locale: string, timeZone: string): string {
  const key = `${locale}\0${timeZone}`;
  let f = dateFormats.get(key);
  if (!f) dateFormats.set(key, (f = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone })));
  return f.format(typeof at === 'string' ? new Date(at) : at);
}
