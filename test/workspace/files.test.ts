import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CSV_LIMIT, hashWorkspaceFile, openWorkspaceStream, readWorkspaceText, TEXT_LIMIT, WorkspaceFileError } from '../../src/workspace/files.js';
import { Utf8Check } from '../../src/workspace/utf8.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
const SECRET_CSV = 'TOPSECRET_COLUMN,other\nrow-secret,1\n';

/** A folder outside the workspace holding files a link could point at. */
function outside(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-outside-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'key.pem'), PEM);
  writeFileSync(join(dir, 'secret.csv'), SECRET_CSV);
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'folder', 'template.yaml'), 'subject:\n  en: SECRET SUBJECT\n');
  writeFileSync(join(dir, 'folder', 'en.mjml'), '<mjml><mj-body>SECRET BODY</mj-body></mjml>\n');
  return dir;
}

function workspace(files: Record<string, string> = {}) {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  return ws;
}

async function problems(dir: string): Promise<string[]> {
  const { problems } = await validateWorkspace(dir);
  return problems.map((p) => `${p.severity} ${p.file}:${p.line}:${p.column}: ${p.message}${p.hint ? ` [${p.hint}]` : ''}`);
}

describe('reading workspace files', () => {
  it('refuses every kind of file that links out of the workspace, and never shows what it points at', async () => {
    const out = outside();
    const ws = workspace({
      'lists/fair.yaml': 'file: fair.csv\nsite: main\n',
      'campaigns/fair.yaml': 'title: Fair\nsite: main\naudience:\n  list: fair\ntemplate: fair\n',
      // An unknown token lists the tokens there are, the CSV's columns among them.
      'templates/fair/template.yaml': 'subject:\n  en: Hi {{ customer.nope }}\n',
      'templates/fair/en.mjml': MINIMAL['templates/hello/en.mjml']!,
    });
    symlinkSync(join(out, 'key.pem'), join(ws.dir, 'segments', 'key.yaml'));
    symlinkSync(join(out, 'secret.csv'), join(ws.dir, 'lists', 'fair.csv'));
    rmSync(join(ws.dir, 'templates', 'hello', 'en.mjml'));
    symlinkSync(join(out, 'key.pem'), join(ws.dir, 'templates', 'hello', 'en.mjml'));
    symlinkSync(join(out, 'key.pem'), join(ws.dir, 'templates', 'hello', 'preview.yaml'));
    mkdirSync(join(ws.dir, 'templates', '_partials'));
    symlinkSync(join(out, 'key.pem'), join(ws.dir, 'templates', '_partials', 'footer.mjml'));
    symlinkSync(join(out, 'folder'), join(ws.dir, 'templates', 'linked'));
    const got = await problems(ws.dir);
    const hint = 'herald reads only files inside the workspace: copy the file in instead of linking to it';
    expect(got).toEqual([
      `error lists/fair.yaml:1:7: lists/fair.csv leads outside the workspace through a symbolic link [${hint}]`,
      `error segments/key.yaml:1:1: segments/key.yaml leads outside the workspace through a symbolic link [${hint}]`,
      `error templates/_partials/footer.mjml:1:1: templates/_partials/footer.mjml leads outside the workspace through a symbolic link [${hint}]`,
      `error templates/hello/en.mjml:1:1: templates/hello/en.mjml leads outside the workspace through a symbolic link [${hint}]`,
      `error templates/hello/preview.yaml:1:1: templates/hello/preview.yaml leads outside the workspace through a symbolic link [${hint}]`,
      `error templates/linked:1:1: templates/linked leads outside the workspace through a symbolic link [${hint}]`,
    ]);
    expect(got.join('\n')).not.toMatch(/PRIVATE KEY|MIIE|TOPSECRET|row-secret|SECRET|herald-outside/i);
  });

  it('refuses a workspace folder linked outside, and follows links that stay inside', async () => {
    const out = outside();
    const ws = workspace({ 'extra/everyone.yaml': 'where:\n  site: main\n' });
    symlinkSync(join(out), join(ws.dir, 'triggers'));
    symlinkSync(join(ws.dir, 'extra', 'everyone.yaml'), join(ws.dir, 'segments', 'alias.yaml'));
    expect(await problems(ws.dir)).toEqual([
      'error triggers:1:1: triggers leads outside the workspace through a symbolic link [herald reads only files inside the workspace: copy the file in instead of linking to it]',
    ]);
  });

  it('reports a folder named like a file, a broken link and a link loop at the file', async () => {
    const ws = workspace();
    mkdirSync(join(ws.dir, 'segments', 'x.yaml'));
    symlinkSync(join(ws.dir, 'nowhere.yaml'), join(ws.dir, 'segments', 'dangling.yaml'));
    symlinkSync('loop2.yaml', join(ws.dir, 'segments', 'loop1.yaml'));
    symlinkSync('loop1.yaml', join(ws.dir, 'segments', 'loop2.yaml'));
    mkdirSync(join(ws.dir, 'templates', 'hello', 'en.txt'));
    expect(await problems(ws.dir)).toEqual([
      'error segments/dangling.yaml:1:1: segments/dangling.yaml is a symbolic link to a file that does not exist [point the link at a file in the workspace, or replace it with the file itself]',
      'error segments/loop1.yaml:1:1: segments/loop1.yaml is a symbolic link that loops back on itself [replace the link with the file itself]',
      'error segments/loop2.yaml:1:1: segments/loop2.yaml is a symbolic link that loops back on itself [replace the link with the file itself]',
      'error segments/x.yaml:1:1: segments/x.yaml is a folder, not a file [rename or remove the folder]',
      'error templates/hello/en.txt:1:1: templates/hello/en.txt is a folder, not a file [rename or remove the folder]',
    ]);
  });

  it('refuses a pipe without waiting for a writer', async () => {
    // The campaign sends to the list, so the template checks look at the CSV's columns too.
    const ws = workspace({ 'lists/fair.yaml': 'file: fair.csv\nsite: main\n', 'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'list: fair') });
    execFileSync('mkfifo', [join(ws.dir, 'segments', 'pipe.yaml'), join(ws.dir, 'lists', 'fair.csv')]);
    const hint = 'replace it with an ordinary file';
    expect(await problems(ws.dir)).toEqual([
      `error lists/fair.yaml:1:7: lists/fair.csv is not a regular file (a device, pipe or socket) [${hint}]`,
      `error segments/pipe.yaml:1:1: segments/pipe.yaml is not a regular file (a device, pipe or socket) [${hint}]`,
    ]);
  });

  it('refuses a file over the size limit, and reads one just under it', async () => {
    const line = `# ${'x'.repeat(98)}\n`; // 101 bytes
    const under = `where:\n  order_count: { gte: 0 }\n${line.repeat(Math.floor((TEXT_LIMIT.bytes - 40) / line.length))}`;
    expect(Buffer.byteLength(under)).toBeLessThanOrEqual(TEXT_LIMIT.bytes);
    const over = `${under}${'#'.repeat(TEXT_LIMIT.bytes - Buffer.byteLength(under))}\n`;
    expect(Buffer.byteLength(over)).toBe(TEXT_LIMIT.bytes + 1);
    const ws = workspace({ 'segments/under.yaml': under, 'segments/over.yaml': over });
    expect(await problems(ws.dir)).toEqual([
      'error segments/over.yaml:1:1: segments/over.yaml has 1,048,577 bytes, over the limit of 1 MB for a YAML, MJML or text file [a workspace file is written by hand and needs far less; split it, or move repeated markup into a partial]',
    ]);
  });

  it('points at the first byte that is not UTF-8, in YAML, MJML and CSV files', async () => {
    const latin1 = (s: string) => Buffer.from(s, 'latin1').toString('binary');
    const ws = workspace({ 'lists/fair.yaml': 'file: fair.csv\nsite: main\n' });
    writeFileSync(join(ws.dir, 'segments', 'cafe.yaml'), Buffer.from(latin1('description: Café für alle\nwhere:\n  site: main\n'), 'latin1'));
    writeFileSync(join(ws.dir, 'templates', 'hello', 'en.mjml'), Buffer.concat([Buffer.from('<mjml><mj-body>\n<mj-text>Grüße, '), Buffer.from('Müller', 'latin1'), Buffer.from(' {{ links.unsubscribe }}</mj-text>\n</mj-body></mjml>\n')]));
    writeFileSync(join(ws.dir, 'lists', 'fair.csv'), Buffer.concat([Buffer.from('email,first_name\nanna@example.com,Anna\nbo@example.com,'), Buffer.from('Jürgen', 'latin1'), Buffer.from('\n')]));
    const hint = 'herald reads UTF-8 only; re-save the file as UTF-8 (it was probably written as Latin-1 or Windows-1252)';
    expect(await problems(ws.dir)).toEqual([
      `error lists/fair.csv:3:17: the file is not valid UTF-8: byte 0xFC here starts no character [${hint}]`,
      `error segments/cafe.yaml:1:17: the file is not valid UTF-8: byte 0xE9 here starts no character [${hint}]`,
      `error templates/hello/en.mjml:2:18: the file is not valid UTF-8: byte 0xFC here starts no character [${hint}]`,
    ]);
  });

  it('points at a NUL character, raw or a YAML escape, in YAML, MJML, text and CSV files, and says to remove it', async () => {
    const ws = workspace({
      'lists/fair.yaml': 'file: fair.csv\nsite: main\n',
      'lists/fair.csv': 'email,first_name,last_name,locale,site,tags\nnewperson@example.com,Ne\u0000ll,X,en,main,bags\n',
      'segments/lapsed.yaml': 'description: "Lapsed\\0 customers"\nwhere:\n  order_count: { gte: 0 }\n',
      'segments/escaped.yaml': 'description: "C:\\\\0 is a path, \\u0000 is not"\nwhere:\n  order_count: { gte: 0 }\n',
      'segments/raw.yaml': 'description: Lapsed\u0000 customers\nwhere:\n  order_count: { gte: 0 }\n',
      'templates/hello/template.yaml': 'subject:\n  en: "Hello\\x00 {{ customer.first_name }}"\n',
      'templates/hello/en.txt': 'Hello\n\u0000{{ links.unsubscribe }}\n',
      'templates/hello/en.mjml': MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greeting }}\u0000'),
    });
    const raw = 'remove it: herald cannot store a NUL, and text never needs one (a file full of them was saved as UTF-16: re-save it as UTF-8)';
    const escape = 'remove the escape: herald cannot store a NUL, and text never needs one';
    expect(await problems(ws.dir)).toEqual([
      `error lists/fair.csv:2:25: the file has a NUL character (byte 0x00) here [${raw}]`,
      `error segments/escaped.yaml:1:32: the string has a NUL character (\\u0000) here [${escape}]`,
      `error segments/lapsed.yaml:1:21: the string has a NUL character (\\0) here [${escape}]`,
      `error segments/raw.yaml:1:20: the file has a NUL character (byte 0x00) here [${raw}]`,
      `error templates/hello/en.mjml:1:62: the file has a NUL character (byte 0x00) here [${raw}]`,
      `error templates/hello/en.txt:2:1: the file has a NUL character (byte 0x00) here [${raw}]`,
      `error templates/hello/template.yaml:2:13: the string has a NUL character (\\x00) here [${escape}]`,
    ]);
  });

  it('accepts a UTF-8 byte-order mark and counts columns from after it', async () => {
    const ws = workspace({ 'segments/everyone.yaml': '\ufeffwhere:\n  order_count: { gte: 0 }\n', 'segments/bad.yaml': '\ufeffwherre:\n  site: main\n' });
    expect(await problems(ws.dir)).toEqual([
      'error segments/bad.yaml:1:1: missing required key "where"',
      'error segments/bad.yaml:1:1: unknown key "wherre" [did you mean "where"?]',
    ]);
  });

  it('never lets an include reach a file outside templates/_partials', async () => {
    const out = outside();
    const body = [
      '<mjml><mj-body>',
      `<mj-include path="${join(out, 'folder', 'en.mjml')}" />`,
      '<mj-include path="../_partials/../../../etc/hostname" />',
      `<MJ-INCLUDE path="${join(out, 'folder', 'en.mjml')}" />`,
      `<mj-text><a href="{{ links.unsubscribe }}">unsubscribe</a></mj-text>`,
      '</mj-body></mjml>',
    ].join('\n');
    const ws = workspace({ 'templates/hello/en.mjml': body });
    expect((await problems(ws.dir)).join('\n')).not.toMatch(/SECRET/);
  });
});

describe('the reader', () => {
  it('reads text, strips a BOM, and hashes and streams the raw bytes', async () => {
    const ws = workspace({ 'a.txt': '\ufeffhé\n' });
    expect(readWorkspaceText(ws.dir, 'a.txt')).toEqual({ text: 'hé\n' });
    expect(hashWorkspaceFile(ws.dir, 'a.txt').sha256).toBe(createHash('sha256').update('\ufeffhé\n').digest('hex'));
    const opened = openWorkspaceStream(ws.dir, 'a.txt');
    const chunks: Buffer[] = [];
    for await (const c of opened.stream!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from('\ufeffhé\n'));
  });

  it('refuses a file over the limit before reading it', async () => {
    const ws = workspace({ 'big.csv': 'email\n' + 'a@example.com\n'.repeat(100) });
    const small = { ...CSV_LIMIT, bytes: 100 };
    expect(hashWorkspaceFile(ws.dir, 'big.csv', small).problem).toMatchObject({
      file: 'big.csv',
      line: 1,
      message: 'big.csv has 1,406 bytes, over the limit of 100 bytes for a list CSV',
      hint: 'split the contacts into several lists',
    });
    expect(openWorkspaceStream(ws.dir, 'big.csv', small).problem?.message).toBe('big.csv has 1,406 bytes, over the limit of 100 bytes for a list CSV');
    expect(readWorkspaceText(ws.dir, 'big.csv', { ...TEXT_LIMIT, bytes: 1024 }).problem?.message).toBe('big.csv has 1,406 bytes, over the limit of 1 KB for a YAML, MJML or text file');
  });

  it.runIf(existsSync('/proc/self/maps'))('enforces the limit while reading a file whose size says 0', async () => {
    // /proc files are regular files of size 0 with content: the size check alone would let them through.
    const small = { ...TEXT_LIMIT, bytes: 100 };
    expect(readWorkspaceText('/proc/self', 'maps', small).problem?.message).toBe('maps is larger than the limit of 100 bytes for a YAML, MJML or text file');
    expect(hashWorkspaceFile('/proc/self', 'maps', small).problem?.message).toBe('maps is larger than the limit of 100 bytes for a YAML, MJML or text file');
    const read = async () => {
      for await (const _ of openWorkspaceStream('/proc/self', 'maps', small).stream!) void _;
    };
    expect(((await read().catch((e: unknown) => e)) as WorkspaceFileError).problem?.message).toBe('maps is larger than the limit of 100 bytes for a YAML, MJML or text file');
  });

  it('fails a stream at the first bad byte, with its position', async () => {
    const ws = workspace({});
    writeFileSync(join(ws.dir, 'x.csv'), Buffer.concat([Buffer.from('email\n'.repeat(20000)), Buffer.from([0x61, 0xff])]));
    const opened = openWorkspaceStream(ws.dir, 'x.csv');
    const read = async () => {
      for await (const _ of opened.stream!) void _;
    };
    const err = await read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceFileError);
    expect((err as WorkspaceFileError).problem).toMatchObject({ file: 'x.csv', line: 20001, column: 2 });
  });
  it('fails a stream at the first NUL, with its position, counting characters after a BOM', async () => {
    const ws = workspace({});
    writeFileSync(join(ws.dir, 'x.csv'), Buffer.concat([Buffer.from('\ufeffemail\n'), Buffer.from('é@example.com\n'.repeat(20000)), Buffer.from('aé\u0000')]));
    const read = async () => {
      for await (const _ of openWorkspaceStream(ws.dir, 'x.csv').stream!) void _;
    };
    const err = await read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceFileError);
    expect((err as WorkspaceFileError).problem).toMatchObject({ file: 'x.csv', line: 20002, column: 3, message: 'the file has a NUL character (byte 0x00) here' });
    writeFileSync(join(ws.dir, 'y.txt'), '\ufeffab\ncé\u0000');
    expect(readWorkspaceText(ws.dir, 'y.txt').problem).toMatchObject({ file: 'y.txt', line: 2, column: 3 });
  });
});

describe('Utf8Check', () => {
  const check = (chunks: Buffer[]) => {
    const c = new Utf8Check();
    for (const chunk of chunks) {
      const bad = c.push(chunk);
      if (bad) return bad;
    }
    return c.end();
  };
  const bytes = (s: string) => [...Buffer.from(s)].map((b) => Buffer.from([b]));

  it('accepts any UTF-8 cut anywhere, a byte at a time', () => {
    expect(check(bytes('\ufeffa\nÿ€𝄞 Здравствуйте\n'))).toBeUndefined();
    expect(check([Buffer.alloc(0)])).toBeUndefined();
  });

  it('locates overlong forms, surrogates, stray continuations and a character cut short at the end', () => {
    expect(check([Buffer.from([0x61, 0xc0, 0x80])])).toEqual({ line: 1, column: 2, byte: 0xc0 });
    expect(check([Buffer.from('x\n𝄞'), Buffer.from([0xed, 0xa0, 0x80])])).toEqual({ line: 2, column: 3, byte: 0xed });
    expect(check([Buffer.from('ab'), Buffer.from([0x80])])).toEqual({ line: 1, column: 3, byte: 0x80 });
    expect(check([Buffer.from('ab\nc'), Buffer.from([0xe2, 0x82])])).toEqual({ line: 2, column: 2, byte: 0xe2 });
    expect(check(bytes('é\nü').concat([Buffer.from([0xf5])]))).toEqual({ line: 2, column: 2, byte: 0xf5 });
  });
});
