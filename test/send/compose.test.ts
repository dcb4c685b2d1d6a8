import { it } from 'vitest';
import { simpleParser } from 'mailparser';
import { composeMessage } from '../../src/send/compose.js';

it('probe', async () => {
  const names = ['\u0000', 'a\tb', 'x\u0001y', 'Ltd, Иван', 'Иван <evil@x.com>', 'Нордвинд "Sale"', 'O\'Brien, "Shop" \\ x', '=?utf-8?B?SGk=?=', 'a'.repeat(1200), ' \u00a0x', 'a  b', 'Ǆ', '\u2028x', 'a\u000bb'];
  for (const name of names) {
    const m = composeMessage({ from: { name, address: 'news@shop.example.com' }, to: 'a@example.com', subject: name, text: '', html: '', messageId: 'x.1@shop.example.com' });
    const p = await simpleParser(m.raw);
    const head = m.raw.toString().split('\r\n\r\n')[0]!;
    console.log(JSON.stringify(name.slice(0, 40)), '|', JSON.stringify(p.from?.value), '|', JSON.stringify(p.subject?.slice(0, 40)), '| text', JSON.stringify(p.text), 'html', JSON.stringify(p.html), '| maxline', Math.max(...head.split('\r\n').map((l) => l.length)));
  }
  for (const body of ['a\r\nb', 'a\nb', 'a\rb', '\ufeffx', 'x'.repeat(3000)]) {
    const m = composeMessage({ from: { address: 'news@shop.example.com' }, to: 'a@example.com', subject: 's', text: body, html: body, messageId: 'x.1@shop.example.com' });
    const p = await simpleParser(m.raw);
    console.log(JSON.stringify(body.slice(0, 10)), JSON.stringify(p.text?.slice(0, 10)), p.text === body, p.html === body);
  }
});
