/**
 * Reference data for the demo shop: names and places per language, the
 * catalogue and currency rates. seed.ts passes them to SQL as parameters.
 */
type Pair = [native: string, latin: string];
type Place = [country: string, city: string, dialCode: string];
interface Folk {
  f: { first: Pair[]; last: Pair[] };
  m: { first: Pair[]; last: Pair[] };
  places: Place[];
}

/** `Анна:anna Мария:maria` → pairs; a bare name is its own transliteration (lower-cased for emails). */
function pairs(list: string): Pair[] {
  return list.split(' ').map((word) => {
    const [native, latin] = word.split(':') as [string, string | undefined];
    return [native, (latin ?? native).toLowerCase()];
  });
}

const ENGLISH_LAST = pairs(
  'Smith Johnson Williams Brown Jones Taylor Davies Wilson Evans Thomas Roberts Walker Wright Robinson ' +
    'Thompson White Hughes Edwards Green Hall Wood Harris Clarke Jackson Turner Miller Moore Martin Cooper Baker',
);
// Russian family names take a feminine form: Иванов → Иванова.
const RUSSIAN_LAST = pairs(
  'Иванов:ivanov Смирнов:smirnov Кузнецов:kuznetsov Попов:popov Васильев:vasilyev Петров:petrov ' +
    'Соколов:sokolov Михайлов:mikhaylov Новиков:novikov Фёдоров:fedorov Морозов:morozov Волков:volkov ' +
    'Алексеев:alekseev Лебедев:lebedev Семёнов:semenov Егоров:egorov Павлов:pavlov Козлов:kozlov ' +
    'Степанов:stepanov Николаев:nikolaev Орлов:orlov Андреев:andreev Макаров:makarov Никитин:nikitin Захаров:zakharov',
);

/**
 * Names and places by language (the first two letters of a locale); a locale
 * whose language is missing here gets `en`. Places are [country, city, dialling
 * code]; a city listed twice is twice as likely.
 */
export const PEOPLE: Record<string, Folk> = {
  en: {
    f: {
      first: pairs(
        'Emma Olivia Sophia Emily Charlotte Amelia Grace Chloe Lucy Hannah Sarah Jessica Laura Anna Kate Megan Ella Isla Ruby Alice',
      ),
      last: ENGLISH_LAST,
    },
    m: {
      first: pairs(
        'James Oliver William Jack Harry George Thomas Daniel Michael David Samuel Benjamin Lucas Ethan Matthew Ryan Noah Henry Adam Luke',
      ),
      last: ENGLISH_LAST,
    },
    places: [
      ['GB', 'London', '44'], ['GB', 'London', '44'], ['GB', 'Manchester', '44'], ['GB', 'Edinburgh', '44'],
      ['GB', 'Bristol', '44'], ['IE', 'Dublin', '353'], ['DE', 'Berlin', '49'], ['DE', 'Berlin', '49'],
      ['DE', 'Munich', '49'], ['DE', 'Hamburg', '49'], ['NL', 'Amsterdam', '31'], ['AT', 'Vienna', '43'],
      ['FR', 'Paris', '33'], ['US', 'New York', '1'], ['US', 'Chicago', '1'], ['CA', 'Toronto', '1'],
    ],
  },
  ru: {
    f: {
      first: pairs(
        'Анна:anna Мария:maria Елена:elena Ольга:olga Наталья:natalya Екатерина:ekaterina Татьяна:tatyana ' +
          'Ирина:irina Светлана:svetlana Юлия:yulia Анастасия:anastasia Дарья:darya Ксения:ksenia Полина:polina ' +
          'Виктория:viktoria Алиса:alisa Софья:sofya Вероника:veronika',
      ),
      last: RUSSIAN_LAST.map(([native, latin]): Pair => [`${native}а`, `${latin}a`]),
    },
    m: {
      first: pairs(
        'Александр:aleksandr Дмитрий:dmitry Максим:maksim Сергей:sergey Андрей:andrey Алексей:aleksey Иван:ivan ' +
          'Михаил:mikhail Никита:nikita Егор:egor Артём:artem Павел:pavel Николай:nikolay Владимир:vladimir ' +
          'Роман:roman Кирилл:kirill Илья:ilya Денис:denis',
      ),
      last: RUSSIAN_LAST,
    },
    places: [
      ['RU', 'Москва', '7'], ['RU', 'Москва', '7'], ['RU', 'Москва', '7'], ['RU', 'Москва', '7'],
      ['RU', 'Санкт-Петербург', '7'], ['RU', 'Санкт-Петербург', '7'], ['RU', 'Новосибирск', '7'],
      ['RU', 'Екатеринбург', '7'], ['RU', 'Казань', '7'], ['RU', 'Нижний Новгород', '7'], ['RU', 'Краснодар', '7'],
      ['RU', 'Самара', '7'], ['KZ', 'Алматы', '7'], ['BY', 'Минск', '375'], ['DE', 'Берлин', '49'],
    ],
  },
};

/**
 * PEOPLE as rows for jsonb_to_recordset, one per language and gender, each
 * list split into parallel arrays: SQL picks the same position from both.
 */
export function folkRows() {
  return Object.entries(PEOPLE).flatMap(([lang, folk]) =>
    (['f', 'm'] as const).map((gender) => ({
      lang,
      gender,
      first_native: folk[gender].first.map((pair) => pair[0]),
      first_latin: folk[gender].first.map((pair) => pair[1]),
      last_native: folk[gender].last.map((pair) => pair[0]),
      last_latin: folk[gender].last.map((pair) => pair[1]),
      countries: folk.places.map((place) => place[0]),
      cities: folk.places.map((place) => place[1]),
      dial_codes: folk.places.map((place) => place[2]),
    })),
  );
}

/** Reserved for documentation (RFC 2606), so no demo message can reach a real person. */
export const EMAIL_DOMAINS = ['example.com', 'example.com', 'example.org', 'example.net'];

/** [sku, name, category, price in EUR, in stock]. */
export const CATALOG: [string, string, string, number, boolean][] = [
  ['SH-001', 'Leather Chelsea Boots', 'shoes', 189, true], ['SH-002', 'Suede Loafers', 'shoes', 139, true],
  ['SH-003', 'Classic White Sneakers', 'shoes', 99, true], ['SH-004', 'Running Trainers', 'shoes', 119, true],
  ['SH-005', 'Ankle Boots', 'shoes', 169, true], ['SH-006', 'Ballet Flats', 'shoes', 79, true],
  ['SH-007', 'Oxford Brogues', 'shoes', 159, true], ['SH-008', 'Leather Sandals', 'shoes', 69, true],
  ['SH-009', 'Knee-High Boots', 'shoes', 229, false], ['SH-010', 'Canvas Slip-Ons', 'shoes', 49, true],
  ['BG-001', 'Leather Tote', 'bags', 199, true], ['BG-002', 'Crossbody Bag', 'bags', 129, true],
  ['BG-003', 'Canvas Backpack', 'bags', 89, true], ['BG-004', 'Weekender Duffel', 'bags', 179, true],
  ['BG-005', 'Mini Shoulder Bag', 'bags', 109, false], ['BG-006', 'Laptop Briefcase', 'bags', 219, true],
  ['BG-007', 'Belt Bag', 'bags', 59, true], ['BG-008', 'Evening Clutch', 'bags', 79, true],
  ['BG-009', 'Bucket Bag', 'bags', 149, true], ['AC-001', 'Leather Belt', 'accessories', 45, true],
  ['AC-002', 'Wool Scarf', 'accessories', 39, true], ['AC-003', 'Cashmere Beanie', 'accessories', 55, true],
  ['AC-004', 'Leather Gloves', 'accessories', 65, true], ['AC-005', 'Card Holder', 'accessories', 29, true],
  ['AC-006', 'Zip Wallet', 'accessories', 59, true], ['AC-007', 'Aviator Sunglasses', 'accessories', 89, false],
  ['AC-008', 'Key Ring', 'accessories', 15, true], ['AC-009', 'Silk Bandana', 'accessories', 35, true],
  ['OW-001', 'Wool Overcoat', 'outerwear', 349, true], ['OW-002', 'Quilted Jacket', 'outerwear', 199, true],
  ['OW-003', 'Trench Coat', 'outerwear', 289, true], ['OW-004', 'Down Parka', 'outerwear', 329, false],
  ['OW-005', 'Rain Jacket', 'outerwear', 149, true], ['OW-006', 'Leather Biker Jacket', 'outerwear', 399, true],
  ['OW-007', 'Fleece Gilet', 'outerwear', 79, true], ['CR-001', 'Leather Care Kit', 'care', 25, true],
  ['CR-002', 'Suede Brush', 'care', 12, true], ['CR-003', 'Waterproofing Spray', 'care', 15, true],
  ['CR-004', 'Cedar Shoe Trees', 'care', 29, true], ['CR-005', 'Sneaker Cleaner', 'care', 18, true],
];

/** Rough value of one euro, so each site's prices look like its currency. Unknown currencies count as euros. */
export const EURO_RATES: Record<string, string> = { EUR: '1', USD: '1.1', GBP: '0.85', RUB: '100', KZT: '500', BYN: '3.5' };
