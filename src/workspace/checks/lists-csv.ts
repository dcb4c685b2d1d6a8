import { CsvError, parse, type InfoRecord } from 'csv-parse';
import type { Problem } from '../../errors.js';
import { openWorkspaceStream, WorkspaceFileError } from '../files.js';
import { SeenAddresses } from './lists-seen.js';
import { didYouMean } from './semantic-conditions.js';

/** Past this many row problems in one file, the rest are counted in one summary problem. */
export const MAX_ROW_PROBLEMS = 50;

/** Extra columns become template tokens, so their names must be token identifiers. */
const TOKEN = /^[a-z_][a-z0-9_]*$/;

/**
 * The schema's email format (ajv-formats' "email"), widened to Unicode letters
 * and digits: customers write internationalised addresses such as иван@почта.рф.
 */
const EMAIL =
  /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;

export interface ListContext {
  /** site id → the locales it writes in. */
  sites: ReadonlyMap<string, string[]>;
  /** The list's own site, for rows without one, when it is defined. */
  site?: string;
}

export interface CsvResult {
  problems: Problem[];
  /** The header's column names, lower-cased; undefined when there is no header. */
  columns?: string[];
}

/**
 * Streams one list's CSV and reports, by CSV line, what would fail its
 * import: syntax, the header, and each invalid row. Rows are not kept; only
 * a 12-byte hash of each distinct address is (lists-seen.ts), so a
 * million-row file is checked in a few tens of megabytes.
 */
export async function csvProblems(root: string, file: string, ctx: ListContext): Promise<CsvResult> {
  const opened = openWorkspaceStream(root, file);
  if (opened.problem) return { problems: [opened.problem] };
  const input = opened.stream;
  const report = new RowReport(file);
  // The line the last good record ended on, as the parser goes (the loop below lags behind it).
  let parsedTo = 0;
  const parser = parse({
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_record: (record, info) => {
      parsedTo = info.lines;
      return record;
    },
    on_skip: (err) => {
      if (err?.code !== 'CSV_QUOTE_NOT_CLOSED') {
        if (err) report.syntax(err, undefined);
      } else if (!report.hasSyntaxErrors) {
        // Noticed only at the end of the file, the quote opened in the record after the last good one.
        // After an earlier syntax error it is the parser's recovery running on to the end, not news.
        report.syntax(err, parsedTo + 1);
      }
      return undefined;
    },
  });
  input.on('error', (e) => parser.destroy(e));
  input.pipe(parser);

  let header: Header | undefined;
  let rows = 0;
  // Where each address was first seen, by its local part and lower-cased domain.
  const seen = new SeenAddresses();
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: InfoRecord }>) {
      // info.lines is where the record ends; newlines inside quoted fields moved it on.
      const line = info.lines - record.reduce((n, f) => n + newlines(f), 0);
      if (!header) {
        header = readHeader(record, line, report);
        if (!header.columns.includes('email')) return { problems: report.done(), columns: header.columns };
        continue;
      }
      rows++;
      checkRow(record, line, info.error !== undefined, header, seen, ctx, report);
    }
  } catch (e) {
    // The file stops being readable (too large, not UTF-8): what came before stands, the rest is not judged.
    if (e instanceof WorkspaceFileError) return { problems: [...report.done(), e.problem] };
    if (e instanceof CsvError) report.syntax(e, undefined);
    else if (e instanceof Error && 'code' in e) report.add(1, `cannot read ${file}: ${e.message}`, 'error');
    else throw e;
  } finally {
    input.destroy();
  }
  if (!header) report.add(1, `${file} is empty: it needs a header row with an email column`, 'error', 'for example: email,first_name,locale');
  else if (rows === 0 && !report.hasSyntaxErrors) report.add(header.line, 'the list has no contacts, only a header row', 'warning');
  return { problems: report.done(), columns: header?.columns };
}

function newlines(field: string): number {
  let n = 0;
  for (let i = field.indexOf('\n'); i >= 0; i = field.indexOf('\n', i + 1)) n++;
  return n;
}

interface Header {
  line: number;
  columns: string[];
  email: number;
  site: number;
  locale: number;
}

function readHeader(record: string[], line: number, report: RowReport): Header {
  const columns = record.map((c) => c.trim().toLowerCase());
  const header = { line, columns, email: columns.indexOf('email'), site: columns.indexOf('site'), locale: columns.indexOf('locale') };
  if (header.email < 0 && record.some((c) => c.includes('@'))) {
    report.add(line, 'the header has no email column', 'error', 'the first row must name the columns, such as email,first_name,locale');
    return header;
  }
  const counted = new Set<string>();
  columns.forEach((name, i) => {
    if (!TOKEN.test(name)) {
      const raw = record[i]!;
      const separator = [';', '\t', '|'].find((s) => raw.includes(s));
      report.add(line, `column "${raw}" is not a valid name`, 'error',
        separator && record.length === 1
          ? `columns are separated by commas, and this header seems to use "${separator === '\t' ? 'tab' : separator}"`
          : `column names become tokens: use letters, digits and _, such as "${name.replace(/[^a-z0-9_]+/g, '_').replace(/^(?=\d)/, '_') || 'name'}"`);
    } else if (counted.has(name)) {
      report.add(line, `column "${name}" appears twice`, 'error', 'give each column its own name');
    }
    counted.add(name);
  });
  if (header.email < 0) {
    report.add(line, 'the header has no email column', 'error', 'email is required; first_name, last_name, locale and site are optional; other columns become tokens');
  }
  return header;
}

function checkRow(record: string[], line: number, wrongLength: boolean, h: Header, seen: SeenAddresses, ctx: ListContext, report: RowReport): void {
  if (wrongLength) {
    report.add(line, `the row has ${record.length} field${record.length === 1 ? '' : 's'}, the header has ${h.columns.length}`, 'error', 'a field with a comma in it is quoted: "Berlin, Mitte"');
    return;
  }
  const email = record[h.email]!.trim();
  if (email === '') {
    report.add(line, 'the row has no email', 'error');
  } else if (!EMAIL.test(email)) {
    report.add(line, `"${email}" is not a valid email`, 'error');
  } else {
    const at = email.lastIndexOf('@');
    const key = email.slice(0, at) + email.slice(at).toLowerCase();
    const first = seen.firstLine(key, line);
    if (first !== undefined) report.add(line, `${email} appears twice, on lines ${first} and ${line}`, 'warning', 'the import keeps the first row');
  }

  const own = h.site >= 0 ? record[h.site]!.trim() : '';
  if (own !== '' && !ctx.sites.has(own)) {
    report.add(line, `site "${own}" is not defined in herald.yaml`, 'error', didYouMean(own, [...ctx.sites.keys()], 'defined sites'));
    return;
  }
  const site = own || ctx.site;
  if (site === undefined && h.site >= 0 && ctx.sites.size > 1) {
    report.add(line, 'the row has no site, and the list names none', 'error', 'fill in the site column, or add site: <id> to the list');
  }
  const locale = h.locale >= 0 ? record[h.locale]!.trim() : '';
  if (locale === '') return;
  const locales = site !== undefined ? (ctx.sites.get(site) ?? []) : [...new Set([...ctx.sites.values()].flat())];
  if (!locales.includes(locale)) {
    report.add(line, `locale "${locale}" is not ${site !== undefined ? `a locale of site "${site}"` : 'a locale of any site'} (${locales.join(', ')})`, 'error', 'leave it empty to use the site\'s default locale');
  }
}

/** Row problems in one CSV: the first MAX_ROW_PROBLEMS in full, then a count. */
class RowReport {
  private readonly problems: Problem[] = [];
  private readonly syntaxSeen = new Set<string>();
  private more = 0;
  private moreErrors = false;
  private moreLine = 0;

  constructor(private readonly file: string) {}

  add(line: number, message: string, severity: 'error' | 'warning', hint?: string): void {
    if (this.problems.length < MAX_ROW_PROBLEMS) {
      this.problems.push({ file: this.file, line, column: 1, message, rule: 'csv', severity, ...(hint ? { hint } : {}) });
      return;
    }
    if (this.more === 0) this.moreLine = line;
    this.more++;
    this.moreErrors ||= severity === 'error';
  }

  /** csv-parse may report one broken quote more than once while it recovers. */
  get hasSyntaxErrors(): boolean {
    return this.syntaxSeen.size > 0;
  }

  syntax(err: CsvError, at: number | undefined): void {
    const line = at ?? (typeof err.lines === 'number' && err.lines > 0 ? err.lines : 1);
    const id = `${err.code}:${line}`;
    if (this.syntaxSeen.has(id)) return;
    this.syntaxSeen.add(id);
    const { message, hint } = syntaxMessage(err);
    this.add(line, message, 'error', hint);
  }

  done(): Problem[] {
    if (this.more === 0) return this.problems;
    return [
      ...this.problems,
      { file: this.file, line: this.moreLine, column: 1, message: `…and ${this.more} more problem${this.more === 1 ? '' : 's'} in this file`, rule: 'csv', severity: this.moreErrors ? 'error' : 'warning' },
    ];
  }
}

function syntaxMessage(err: CsvError): { message: string; hint?: string } {
  const quoting = 'a field with a quote in it is quoted, and the quote doubled: "12"" screen"';
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return { message: 'CSV syntax: a quoted field is never closed', hint: quoting };
    case 'CSV_INVALID_CLOSING_QUOTE':
      return { message: 'CSV syntax: text follows a closing quote', hint: quoting };
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return { message: 'CSV syntax: text follows a closing quote', hint: quoting };
    default:
      return { message: `CSV syntax: ${err.message.replace(/ (at|on) line \d+.*$/s, '')}` };
  }
}
