import { describe, expect, it } from 'vitest';
import { dateText, money } from '../../src/render/format.js';
import { linesTotal, type LineRow } from '../../src/render/products.js';

/** Intl's spaces (U+00A0, U+202F) as plain ones, for readable expectations. */
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ');

const line = (price: string, quantity: number, currency = 'EUR'): LineRow => ({ sku: 'X', name: 'X', category: 'x', url: null, image_url: null, price, currency, quantity });

describe('money and dates for the locale', () => {
  it('formats an amount in its currency for each locale', () => {
    expect(money('129.9', 'EUR', 'en')).toBe('€129.90');
    expect(plain(money(14980, 'RUB', 'ru'))).toBe('14 980,00 ₽');
    expect(plain(money(129.9, 'EUR', 'ru'))).toBe('129,90 €');
  });

  it('reads a date in the time zone given', () => {
    expect(dateText('2026-11-18T23:30:00Z', 'en', 'UTC')).toBe('November 18, 2026');
    expect(dateText(new Date('2026-11-18T23:30:00Z'), 'en', 'Europe/Berlin')).toBe('November 19, 2026');
    expect(dateText('2026-11-18T23:30:00Z', 'ru', 'Europe/Moscow')).toBe('19 ноября 2026 г.');
  });
});

describe('linesTotal', () => {
  it('sums price × quantity in cents', () => {
    expect(linesTotal([line('0.10', 1), line('0.20', 1)], 'en', 'EUR')).toBe('€0.30');
    expect(linesTotal([line('129.90', 1), line('9.95', 2)], 'en', 'EUR')).toBe('€149.80');
  });

  it('shows each currency on its own, and zero in the given one when there are no lines', () => {
    expect(plain(linesTotal([line('10', 1), line('450', 2, 'RUB'), line('5', 1)], 'en', 'EUR'))).toBe('€15.00 + RUB 900.00');
    expect(plain(linesTotal([], 'ru', 'RUB'))).toBe('0,00 ₽');
  });
});
