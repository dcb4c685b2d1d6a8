import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listChecks } from '../../../src/workspace/checks/lists.js';
import { MAX_ROW_PROBLEMS } from '../../../src/workspace/checks/lists-csv.js';
import { loadWorkspace, sortProblems } from '../../../src/workspace/load.js';
import { useCleanups } from '../../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../../support/workspace.js';

const cleanup = useCleanups();

const TWO_SITES = MINIMAL['herald.yaml']!.replace(
  'tracking:',
  `  - id: outlet
    name: Outlet
    url: https://outlet.example.com
    locales: [de, en]
    default_locale: de
    currency: EUR
    sender:
      from: news@outlet.example.com
tracking:`,
);

function workspace(files: Record<string, string>) {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  return ws;
}

async function problems(files: Record<string, string>): Promise<string[]> {
  const ws = workspace(files);
  const loaded = loadWorkspace(ws.dir);
  expect(loaded.problems).toEqual([]);
  return sortProblems(await listChecks(loaded.workspace!, new Set())).map((p) => `${p.severity} ${p.file}:${p.line}:${p.column}: ${p.message}`);
}

/** A list "fair" on site main (unless `yaml` says otherwise) with the given CSV. */
const fair = (csv: string, yaml = 'file: fair.csv\nsite: main\n') => ({ 'lists/fair.yaml': yaml, 'lists/fair.csv': csv });

describe('list checks', () => {
  it('accepts a clean CSV: BOM, CRLF, quoted newlines, blank lines, Unicode addresses and token columns', async () => {
    const csv = '\ufeffEmail,first_name,locale,site,favourite_colour\r\nanna@example.com,Anna,en,main,"blue,\r\ngreen"\r\n\r\nиван@почта.рф,Иван,,,red\r\n';
    expect(await problems(fair(csv))).toEqual([]);
  });

  it('points at a missing CSV and names the ones that exist', async () => {
    expect(await problems({ 'lists/fair.yaml': 'file: fiar.csv\n', 'lists/fair.csv': 'email\na@example.com\n' })).toEqual([
      'error lists/fair.yaml:1:7: lists/fiar.csv does not exist',
    ]);
    const ws = workspace({ 'lists/fair.yaml': 'file: fiar.csv\n', 'lists/fair.csv': 'email\na@example.com\n' });
    const [p] = await listChecks(loadWorkspace(ws.dir).workspace!, new Set());
    expect(p!.hint).toBe('did you mean "fair.csv"?');
  });

  it('refuses a CSV outside lists/ and an undefined site', async () => {
    expect(await problems({ 'lists/fair.yaml': 'file: ../herald.csv\nsite: mian\n', 'herald.csv': 'email\n' })).toEqual([
      'error lists/fair.yaml:1:7: "../herald.csv" is outside lists/',
      'error lists/fair.yaml:2:7: site "mian" is not defined in herald.yaml',
    ]);
  });

  it('wants a header with an email column and token names', async () => {
    expect(await problems(fair('anna@example.com,Anna\n'))).toEqual(['error lists/fair.csv:1:1: the header has no email column']);
    expect(await problems(fair('email,First Name,e-mail,email\na@example.com,A,a,a\n'))).toEqual([
      'error lists/fair.csv:1:1: column "First Name" is not a valid name',
      'error lists/fair.csv:1:1: column "e-mail" is not a valid name',
      'error lists/fair.csv:1:1: column "email" appears twice',
    ]);
    const ws = workspace(fair('email;first_name\na@example.com;A\n'));
    const found = await listChecks(loadWorkspace(ws.dir).workspace!, new Set());
    expect(found.map((p) => p.hint)).toContain('columns are separated by commas, and this header seems to use ";"');
  });

  it('reports each invalid row at its CSV line, after multi-line fields', async () => {
    const csv = [
      'email,locale,site,note', //             1
      'anna@example.com,en,main,"two', //      2
      'lines"', //                             3
      'bob@,en,main,', //                      4
      '', //                                   5
      'carl@example.com,ru,main,', //          6
      'dora@example.com,en,outlet,', //        7
      'ANNA@EXAMPLE.COM,en,main,', //          8 (local part differs: not a duplicate)
      'anna@Example.COM,en,main,', //          9
      ',en,main,', //                         10
      'eve@example.com,en', //                11
    ].join('\n');
    expect(await problems(fair(csv))).toEqual([
      'error lists/fair.csv:4:1: "bob@" is not a valid email',
      'error lists/fair.csv:6:1: locale "ru" is not a locale of site "main" (en)',
      'error lists/fair.csv:7:1: site "outlet" is not defined in herald.yaml',
      'warning lists/fair.csv:9:1: anna@Example.COM appears twice, on lines 2 and 9',
      'error lists/fair.csv:10:1: the row has no email',
      'error lists/fair.csv:11:1: the row has 2 fields, the header has 4',
    ]);
  });

  it('reports CSV syntax errors by line', async () => {
    expect(await problems(fair('email,name\na@example.com,"Anna\nb@example.com,Bob\n'))).toEqual([
      'error lists/fair.csv:2:1: CSV syntax: a quoted field is never closed',
    ]);
    expect(await problems(fair('email,name\na@example.com,"Anna"x\n'))).toEqual(['error lists/fair.csv:2:1: CSV syntax: text follows a closing quote']);
  });

  it('warns about an empty list and refuses an empty file', async () => {
    expect(await problems(fair('email,first_name\n'))).toEqual(['warning lists/fair.csv:1:1: the list has no contacts, only a header row']);
    expect(await problems(fair(''))).toEqual(['error lists/fair.csv:1:1: lists/fair.csv is empty: it needs a header row with an email column']);
  });

  it('needs a site for every contact when herald.yaml has several', async () => {
    const files = { 'herald.yaml': TWO_SITES, ...fair('email,locale\na@example.com,de\n', 'file: fair.csv\n') };
    expect(await problems(files)).toEqual([
      'error lists/fair.yaml:1:1: the contacts have no site: the list names none and the CSV has no site column',
    ]);
    const rows = { 'herald.yaml': TWO_SITES, ...fair('email,locale,site\na@example.com,de,outlet\nb@example.com,de,main\nc@example.com,de,\n', 'file: fair.csv\n') };
    expect(await problems(rows)).toEqual([
      'error lists/fair.csv:3:1: locale "de" is not a locale of site "main" (en)',
      'error lists/fair.csv:4:1: the row has no site, and the list names none',
    ]);
  });

  it('caps the row problems of one file with a summary', async () => {
    const rows = Array.from({ length: 80 }, (_, i) => `bad${i}@`);
    const found = await problems(fair(['email', ...rows].join('\n')));
    expect(found).toHaveLength(MAX_ROW_PROBLEMS + 1);
    expect(found.at(-2)).toBe(`error lists/fair.csv:${MAX_ROW_PROBLEMS + 1}:1: "bad${MAX_ROW_PROBLEMS - 1}@" is not a valid email`);
    expect(found.at(-1)).toBe(`error lists/fair.csv:${MAX_ROW_PROBLEMS + 2}:1: …and 30 more problems in this file`);
  });

  it('streams a large file and still finds its few bad rows', async () => {
    const ws = workspace({ 'lists/big.yaml': 'file: big.csv\nsite: main\n' });
    const out = createWriteStream(join(ws.dir, 'lists', 'big.csv'));
    out.write('email,first_name,locale\n');
    for (let i = 0; i < 200_000; i++) {
      out.write(i === 123_456 ? 'not-an-email,X,en\n' : i === 199_998 ? 'user7@example.com,Y,en\n' : `user${i}@example.com,U${i},en\n`);
    }
    await new Promise((done) => out.end(done));
    const found = await listChecks(loadWorkspace(ws.dir).workspace!, new Set());
    expect(sortProblems(found).map((p) => `${p.line}: ${p.message}`)).toEqual([
      '123458: "not-an-email" is not a valid email',
      '200000: user7@example.com appears twice, on lines 9 and 200000',
    ]);
  });
});
