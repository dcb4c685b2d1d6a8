import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { previewMarkdown } from '../../src/ci/preview-markdown.js';
import { buildPreview } from '../../src/preview/preview.js';
import { loadSamples } from '../../src/preview/samples.js';
import type { PushSummaryCell, SmsSummaryCell } from '../../src/preview/write.js';
import { jobSummaryHtml } from '../../src/preview/write.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { twilioPeer } from '../support/twilio.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/**
 * herald preview and test-send on SMS and push: a campaign on three channels
 * gets a cell per channel, an SMS shows its text, encoding and parts, a
 * notification its card, and data from a customer stays text everywhere.
 */
const NOW = new Date('2026-11-20T12:00:00Z');
const cleanup = useCleanups();
const HOSTILE = '<b>Eve</b><img src=x onerror=alert(1)>';

function workspace(extra: Record<string, string> = {}, yaml = '') {
  const ws = tempWorkspace({
    ...MINIMAL,
    'herald.yaml': `${MINIMAL['herald.yaml']}sms:\n  provider: outbox\n  from: Shop\n  max_parts: 1\npush:\n  outbox: true\n${yaml}`,
    // A curly apostrophe: one character outside GSM-7 makes the whole SMS UCS-2.
    'templates/hello/sms.en.txt': 'Hi {{ customer.first_name }}, it’s sale time: https://shop.example.com/sale\n',
    'templates/hello/push.en.yaml': 'title: "Sale, {{ customer.first_name }}"\nbody: "Everything & more, 20% off"\nurl: "https://shop.example.com/sale"\nicon: "https://shop.example.com/icon.png"\n',
    'templates/hello/preview.yaml': `customers:\n  - { first_name: "${HOSTILE}", email: eve@example.com, locale: en }\n`,
    'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  segment: everyone\ntemplate: hello\nchannels: [email, sms, push]\nmode: all\nstatus: ready\n',
    ...extra,
  });
  cleanup(ws.remove);
  return ws;
}

function load(dir: string) {
  const { workspace, problems } = loadWorkspace(dir);
  if (!workspace) throw new Error(problems.map((p) => p.message).join('; '));
  return workspace;
}

async function preview(dir: string, changedSince?: string) {
  const ws = load(dir);
  return buildPreview(ws, { out: join(dir, 'out'), samples: await loadSamples(ws), now: NOW, ...(changedSince ? { changedSince } : {}) });
}

describe('herald preview on SMS and push', () => {
  it('gives a campaign a cell per channel: the SMS as plain text with its encoding and parts, the push as a card, every value escaped', async () => {
    const ws = workspace();
    const { summary } = await preview(ws.dir);
    expect(summary.cells.map((c) => [c.id, c.channel])).toEqual([
      ['campaign-hello/main.en', 'email'],
      ['campaign-hello/main.en.sms', 'sms'],
      ['campaign-hello/main.en.push', 'push'],
    ]);
    const sms = summary.cells[1] as SmsSummaryCell;
    // The text as the phone gets it: the customer's name as it is, nothing escaped in the text itself.
    expect(sms.sms.text).toBe(`Hi ${HOSTILE}, it’s sale time: https://shop.example.com/sale`);
    expect(sms.sms.encoding).toBe('UCS-2');
    expect(sms.sms.forced_by).toEqual({ char: '’', code_point: 'U+2019', index: sms.sms.text.indexOf('’') });
    expect(sms.sms.parts).toBe(2);
    // Over herald.yaml's max_parts: 1.
    expect(sms.problems).toEqual([{ severity: 'warning', message: 'the SMS takes 2 parts, over sms.max_parts (1); each part is billed' }]);
    const push = summary.cells[2] as PushSummaryCell;
    expect(push.push).toEqual({ title: `Sale, ${HOSTILE}`, body: 'Everything & more, 20% off', url: 'https://shop.example.com/sale', icon: 'https://shop.example.com/icon.png', image: null });

    const out = join(ws.dir, 'out');
    expect(readFileSync(join(out, sms.text), 'utf8')).toBe(sms.sms.text);
    for (const file of [sms.html, push.html, 'index.html']) {
      const html = readFileSync(join(out, file), 'utf8');
      // The hostile name is text: no tag of it survives, in the grid or in the cell's own page.
      expect(html, file).not.toMatch(/<b>Eve|<img src=x/);
      expect(html, file).toContain('&#60;b&#62;Eve&#60;/b&#62;&#60;img src=x onerror=alert(1)&#62;');
    }
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    expect(index).toContain('<th scope="row">campaign-hello · SMS</th>');
    expect(index).toContain('<th scope="row">campaign-hello · push</th>');
    expect(index).toContain('<dt>Encoding</dt><dd>UCS-2, forced by ’ (U+2019)</dd>');
    expect(index).toContain('<dt>Parts</dt><dd>2</dd>');
    expect(index).toContain('<div class="title">Sale, &#60;b&#62;Eve');
    expect(index).toContain('<img class="icon" src="https://shop.example.com/icon.png" alt="">');
    expect(index).toContain('Tap opens <a href="https://shop.example.com/sale">');
    expect(readFileSync(join(out, push.html), 'utf8')).toContain('<div class="body">Everything &#38; more, 20% off</div>');
  });

  it('shows a push whose url a token leads off the site as an error of that cell, and the grid still renders', async () => {
    const ws = workspace({
      'templates/hello/push.en.yaml': 'title: Sale\nbody: Now\nurl: "{{ customer.first_name }}"\n',
      'templates/hello/preview.yaml': 'customers:\n  - { first_name: "https://evil.example.net/x", email: eve@example.com, locale: en }\n',
    });
    const { summary } = await preview(ws.dir);
    const push = summary.cells.find((c) => c.channel === 'push')!;
    expect(push.problems).toHaveLength(1);
    expect(push.problems[0]!.severity).toBe('error');
    expect(push.problems[0]!.message).toContain('leads off site main');
    expect(summary.cells.find((c) => c.channel === 'email')!.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('an SMS-only campaign has no email cell, a template on its own shows the channels it has files for', async () => {
    const ws = workspace({
      'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  segment: everyone\ntemplate: hello\nchannels: [sms]\nstatus: ready\n',
      'templates/texts/template.yaml': 'description: texts only\n',
      'templates/texts/sms.en.txt': 'Hello {{ customer.first_name }}\n',
    });
    const { summary } = await preview(ws.dir);
    expect(summary.cells.map((c) => c.id)).toEqual(['campaign-hello/main.en.sms', 'template-texts/main.en.sms']);
  });

  it('lists the SMS and push cells in the job summary and the pull request comment, by channel, as text', async () => {
    const ws = workspace();
    const { summary } = await preview(ws.dir);
    const md = previewMarkdown(summary);
    expect(md.split('\n')[1]).toBe('**herald preview**: 3 messages (1 campaign, trigger or template × 1 site × 1 locale on email, SMS and push): 0 errors, 1 warning');
    expect(md).toContain('<details><summary><b>campaign-hello</b> · email, SMS and push · 1 site · 1 locale · 1 warning</summary>');
    expect(md).toContain('| Site | Locale | Text | Encoding | Parts | Problems |');
    expect(md).toContain('| main | en | Hi &lt;b&gt;Eve&lt;/b&gt;&lt;img src=x onerror=alert\\(1\\)&gt;, it’s sale time: https://shop\\.example\\.com/sale | UCS\\-2 \\(forced by ’ \\(U\\+2019\\)\\) | 2 | warning: the SMS takes 2 parts');
    expect(md).toContain('| Site | Locale | Title | Body | Opens | Problems |');
    expect(md).not.toMatch(/<b>Eve|<img/);
    const html = jobSummaryHtml(summary);
    expect(html).toContain('<h3>SMS</h3>');
    expect(html).toContain('<h3>Push</h3>');
    expect(html).toContain('<td>UCS-2 (forced by ’ (U+2019))</td>');
    expect(html).not.toMatch(/<b>Eve|<img/);
  });
});

describe('herald preview --changed-since on SMS and push files', () => {
  const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { stdio: 'pipe' });

  it("counts a template's sms.<locale>.txt and push.<locale>.yaml, changed or removed, as a change to the template", async () => {
    const ws = workspace({
      'templates/other/template.yaml': 'subject:\n  en: Other\n',
      'templates/other/en.mjml': MINIMAL['templates/hello/en.mjml']!,
      'campaigns/other.yaml': 'title: Other\nsite: main\naudience:\n  segment: everyone\ntemplate: other\nstatus: ready\n',
      '.gitignore': 'out/\n',
    });
    git(ws.dir, 'init', '-q', '-b', 'main');
    git(ws.dir, 'add', '.');
    git(ws.dir, 'commit', '-q', '-m', 'base');
    expect((await preview(ws.dir, 'HEAD')).summary.cells).toEqual([]);

    ws.write('templates/hello/sms.en.txt', 'Sale now, {{ customer.first_name }}\n');
    let r = await preview(ws.dir, 'HEAD');
    expect(r.changed).toEqual(['templates/hello/sms.en.txt']);
    expect(r.summary.cells.map((c) => c.id)).toEqual(['campaign-hello/main.en', 'campaign-hello/main.en.sms', 'campaign-hello/main.en.push']);
    git(ws.dir, 'checkout', '-q', '--', '.');

    ws.write('templates/hello/push.en.yaml', 'title: New title\nbody: New body\n');
    r = await preview(ws.dir, 'HEAD');
    expect(r.summary.cells.map((c) => c.row)).toEqual(['campaign-hello', 'campaign-hello', 'campaign-hello']);
    git(ws.dir, 'checkout', '-q', '--', '.');

    // The other campaign's template loses the SMS file it never used: the template changed, the model no longer has the file.
    ws.write('templates/other/sms.en.txt', 'x\n');
    git(ws.dir, 'add', '.');
    git(ws.dir, 'commit', '-q', '-m', 'other sms');
    git(ws.dir, 'rm', '-q', 'templates/other/sms.en.txt');
    r = await preview(ws.dir, 'HEAD');
    expect(r.changed).toEqual(['templates/other/sms.en.txt']);
    expect(r.summary.cells.map((c) => c.id)).toEqual(['campaign-other/main.en']);
  });
});

describe('herald test-send to a phone', () => {
  const TOKEN = 'twilio-token-for-test-send';

  async function twilioWorkspace() {
    const twilio = await twilioPeer();
    cleanup(() => twilio.close());
    const ws = tempWorkspace({
      ...MINIMAL,
      'herald.yaml': `${MINIMAL['herald.yaml']}sms:\n  provider: twilio\n  from: "+4930123456"\n  account_sid: AC0123456789abcdef0123456789abcdef\n  auth_token_env: HERALD_TEST_TWILIO_TOKEN\n  api_url: ${twilio.url}\n`,
      'templates/hello/sms.en.txt': 'Hi {{ customer.first_name }}, sale: https://shop.example.com/sale\n',
      'templates/hello/preview.yaml': 'customers:\n  - { first_name: "Anna", email: anna@example.com, locale: en }\n',
      'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  segment: everyone\ntemplate: hello\nchannels: [email, sms]\nstatus: ready\n',
      'campaigns/mail-only.yaml': 'title: Mail only\nsite: main\naudience:\n  segment: everyone\ntemplate: hello\nstatus: ready\n',
    });
    cleanup(ws.remove);
    return { twilio, ws };
  }

  it('sends the SMS with [TEST] through the Twilio API of herald.yaml, and the email to the outbox, in one run', async () => {
    const { twilio, ws } = await twilioWorkspace();
    const r = await herald(['test-send', 'hello', '--dir', ws.dir, '--to', '+4915112345678', '--to', 'me@example.com', '--json'], { HERALD_TEST_TWILIO_TOKEN: TOKEN, HERALD_SECRET: 'x'.repeat(40) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(twilio.requests).toHaveLength(1);
    const req = twilio.requests[0]!;
    expect(req.path).toBe('/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json');
    expect(req.auth).toBe(`AC0123456789abcdef0123456789abcdef:${TOKEN}`);
    // The link as written: a test SMS has no ledger row for a tracking link to name.
    expect(req.form).toMatchObject({ To: '+4915112345678', From: '+4930123456', Body: '[TEST] Hi Anna, sale: https://shop.example.com/sale' });
    const out = JSON.parse(r.stdout) as { sent: { channel: string; to: string; messageId: string; sms?: { encoding: string; parts: number }; subject?: string }[] };
    expect(out.sent.map((s) => [s.channel, s.to])).toEqual([
      ['sms', '+4915112345678'],
      ['email', 'me@example.com'],
    ]);
    expect(out.sent[0]!.messageId).toBe(twilio.sids[0]);
    expect(out.sent[0]!.sms).toMatchObject({ encoding: 'GSM-7', parts: 1 });
    expect(out.sent[1]!.subject).toMatch(/^\[TEST\] Hello Anna/);

    const text = await herald(['test-send', 'campaign/hello', '--dir', ws.dir, '--to', '+4915112345678'], { HERALD_TEST_TWILIO_TOKEN: TOKEN });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('+4915112345678: SMS "[TEST] Hi Anna, sale: https://shop.example.com/sale" (GSM-7, 1 part), main en, rendered for anna@example.com:');
    expect(text.stdout).toContain("1 test message sent (SMS via herald.yaml's twilio provider); the campaign's ledger and reports are untouched.");
  });

  it('says what is wrong: a number not in E.164, a campaign without SMS, an opted-out number, a missing secret', async () => {
    const { twilio, ws } = await twilioWorkspace();
    const env = { HERALD_TEST_TWILIO_TOKEN: TOKEN };
    for (const to of ['015112345678', '+49 151 12345678', 'push']) {
      const r = await herald(['test-send', 'hello', '--dir', ws.dir, '--to', to], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`--to ${to} is neither an email address nor a phone number in E.164`);
      expect(r.stderr).toContain("push notifications are not test-sent, since they need a device's subscription");
    }
    const noSms = await herald(['test-send', 'mail-only', '--dir', ws.dir, '--to', '+4915112345678'], env);
    expect(noSms.code).toBe(1);
    expect(noSms.stderr).toContain('campaign "mail-only" sends no SMS (its channels: email)');

    twilio.nextError(400, 21610, 'Attempt to send to unsubscribed recipient');
    const stopped = await herald(['test-send', 'hello', '--dir', ws.dir, '--to', '+4915112345678'], env);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain('the SMS provider will not send to +4915112345678');
    expect(stopped.stderr).toContain('opted out');
    expect(stopped.stderr).not.toContain(TOKEN);

    const noSecret = await herald(['test-send', 'hello', '--dir', ws.dir, '--to', '+4915112345678']);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain('$HERALD_TEST_TWILIO_TOKEN is not set');
    // Nothing was sent before the refusals: the opted-out request is the only one.
    expect(twilio.requests).toHaveLength(1);
  });
});
