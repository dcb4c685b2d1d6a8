import { describe, expect, it } from 'vitest';
import { classifyBounce, preciseStatus, readDsn } from '../../src/events/dsn.js';
import { splitMail } from '../../src/events/mailbox.js';
import { autoresponder, readFeedback } from '../../src/events/match.js';
import { parseMessage, parseHeaders } from '../../src/events/mime.js';
import { returnPath } from '../../src/links/tracking.js';
import { FIXTURE_SECRET, fixture } from './ledger.js';

describe('classifyBounce', () => {
  it('draws the lines of the SMTP classification: 5.1.x hard, 5.7.x policy, other 5.x.x other, 4.x.x and delays soft', () => {
    expect(classifyBounce({ status: '5.1.1', action: 'failed' })).toEqual({ kind: 'bounce', class: 'hard' });
    expect(classifyBounce({ status: '5.1.10', action: 'failed' })).toEqual({ kind: 'bounce', class: 'hard' });
    expect(classifyBounce({ status: '5.7.1', action: 'failed' })).toEqual({ kind: 'bounce', class: 'policy' });
    expect(classifyBounce({ status: '5.2.2', action: 'failed' })).toEqual({ kind: 'bounce', class: 'other' });
    expect(classifyBounce({ status: '4.4.7', action: 'failed' })).toEqual({ kind: 'soft_bounce', class: 'soft' });
    expect(classifyBounce({ status: '4.2.0', action: 'delayed' })).toEqual({ kind: 'soft_bounce', class: 'soft' });
  });

  it('takes the precise code from the diagnostic when the Status says x.0.0', () => {
    expect(preciseStatus('5.0.0', 'smtp; 550 5.1.1 <a@b>: user unknown')).toBe('5.1.1');
    expect(preciseStatus('5.1.1', 'smtp; 550 5.7.1 blocked')).toBe('5.1.1');
    expect(preciseStatus(undefined, '550 no such user')).toBe('5.0.0');
    expect(preciseStatus('4.0.0', '550 5.1.1 x')).toBe('4.0.0');
  });
});

describe('reading reports', () => {
  it('reads a base64-encoded delivery-status part', () => {
    const ds = Buffer.from('Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n').toString('base64');
    const raw = `Content-Type: multipart/report; report-type=delivery-status; boundary=zz\r\n\r\n--zz\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n${ds}\r\n--zz--\r\n`;
    expect(readDsn(parseMessage(raw))?.bounce).toMatchObject({ status: '5.1.1', action: 'failed', recipient: 'x@example.com', format: 'rfc3464' });
  });

  it('unquotes >From lines of an mbox and keeps its messages apart', () => {
    const mails = splitMail(fixture('several.mbox'), 'several.mbox');
    expect(mails.map((m) => m.where)).toEqual(['several.mbox#1', 'several.mbox#2', 'several.mbox#3', 'several.mbox#4']);
    expect(mails[1]!.raw).toContain('\nFrom now on no more mail.');
    expect(mails[1]!.raw).not.toContain('>From');
  });

  it('ignores a person writing to the bounce address, and recognises autoresponders by headers or subject', () => {
    const verp = returnPath('bounces@mail.shop.example', 3, FIXTURE_SECRET);
    expect(readFeedback(`From: Pat <pat@example.com>\r\nTo: ${verp}\r\nSubject: question about my order\r\n\r\nWhere is it?`, 'm', [FIXTURE_SECRET], 'import')).toEqual({
      kind: 'ignored',
      where: 'm',
      why: 'not a DSN, a complaint report, an unsubscribe or an autoresponder',
    });
    expect(autoresponder(parseHeaders('X-Autoreply: yes'), 'Re: x')).toBe('x-autoreply');
    expect(autoresponder([], 'Out of Office: Spring sale')).toBe('subject "Out of Office: Spring sale"');
    expect(autoresponder([], 'Abwesenheitsnotiz: Frühjahr')).toBe('subject "Abwesenheitsnotiz: Frühjahr"');
    expect(autoresponder(parseHeaders('Auto-Submitted: no'), 'Hello')).toBeUndefined();
  });

  it('refuses an unsubscribe whose token does not verify', () => {
    const f = readFeedback('From: a@example.com\r\nSubject: unsubscribe eyJwIjoidSJ9.forged\r\n\r\n', 'm', [FIXTURE_SECRET], 'import');
    expect(f).toMatchObject({ kind: 'unsubscribe', ref: {}, why: expect.stringContaining('does not verify') });
  });

  it('survives hostile structure: nesting past the bound, no headers, no closing boundary', () => {
    let raw = 'Subject: x\r\n\r\nbody';
    for (let i = 0; i < 50; i++) raw = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${raw}\r\n`;
    expect(readFeedback(raw, 'deep', [FIXTURE_SECRET], 'import').kind).toBe('ignored');
    expect(readFeedback('\u0000\u0001garbage', 'junk', [FIXTURE_SECRET], 'import').kind).toBe('ignored');
  });
});
