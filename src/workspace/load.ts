import { resolve, sep } from 'node:path';
import { UserError, type Problem } from '../errors.js';
import { listWorkspaceDir, readWorkspaceText, unreadableWorkspaceFile, workspaceEntryExists, workspacePathKind } from './files.js';
import { checkSchema, type SchemaKind } from './schema.js';
import { problemAt, readYaml, type PathSegment } from './source.js';
import { checkRules } from './rules.js';
import type { Campaign, Entry, List, ListEntry, Preview, Project, PushNotification, Segment, Template, TemplateEntry, TextFile, Trigger, Workspace } from './model.js';

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export interface LoadResult {
  /** Present when the files could be read into a model, even if rules found problems. */
  workspace?: Workspace;
  /** Errors and warnings, every one located. */
  problems: Problem[];
  /**
   * Files the deeper checks should leave alone: their problems are reported,
   * and checking them further would only repeat or guess. A file kept in the
   * model despite unknown keys is not among them.
   */
  failed: Set<string>;
}

/**
 * Reads and checks a workspace: YAML syntax, then each file's JSON Schema, then
 * cross-file rules. Never stops at the first problem, and never throws for bad
 * input; only a missing workspace is a UserError.
 */
export function loadWorkspace(dir: string): LoadResult {
  if (!workspaceEntryExists(dir, 'herald.yaml')) {
    throw new UserError(
      `no herald.yaml in ${dir}`,
      'run herald in a workspace directory, pass --dir DIR, or create one with `herald init`',
    );
  }
  const problems: Problem[] = [];
  // Unknown keys of files kept in the model: errors, but no reason to skip the checks of those files.
  const tolerated = new Set<Problem>();
  const read = <T>(file: string, kind: SchemaKind, name: string): Entry<T> | undefined => {
    const { source, problems: yamlProblems } = readYaml(dir, file);
    problems.push(...yamlProblems);
    if (!source) return undefined;
    const schema = checkSchema(kind, source);
    problems.push(...schema.problems);
    if (schema.problems.length === 0) return { name, spec: source.value as T, source };
    // A file whose only fault is unknown keys is still checked, without them, against
    // the others: fixing a typo must not reveal a second round of problems. Any
    // other schema error leaves the file out, as checks of it would only guess.
    if (!schema.unknownKeys || !withoutKeys(source.value, schema.unknownKeys) || checkSchema(kind, source).problems.length > 0) return undefined;
    for (const p of schema.problems) tolerated.add(p);
    return { name, spec: source.value as T, source };
  };

  const project = read<Project>('herald.yaml', 'project', 'herald');
  const segments = new Map<string, Entry<Segment>>();
  for (const { name, file } of yamlFiles(dir, 'segments', problems)) {
    const e = read<Segment>(file, 'segment', name);
    if (e) segments.set(name, e);
  }
  const lists = new Map<string, ListEntry>();
  for (const { name, file } of yamlFiles(dir, 'lists', problems)) {
    const e = read<List>(file, 'list', name);
    if (!e) continue;
    const csv = `lists/${e.spec.file}`;
    // Checks that read the CSV (its rows, its header for tokens) must never meet a link out of the
    // workspace or a pipe: such a list is reported at its file: key and left out of the model.
    // A path outside lists/ or a missing file is the list checks' to report.
    const inLists = resolve(dir, csv).startsWith(resolve(dir, 'lists') + sep);
    const refused = inLists && workspaceEntryExists(dir, csv) ? unreadableWorkspaceFile(dir, csv) : undefined;
    if (refused) problems.push(problemAt(e.source, ['file'], refused.message, refused.rule, { hint: refused.hint }));
    else lists.set(name, { ...e, csv });
  }
  const campaigns = new Map<string, Entry<Campaign>>();
  for (const { name, file } of yamlFiles(dir, 'campaigns', problems)) {
    const e = read<Campaign>(file, 'campaign', name);
    if (e) campaigns.set(name, e);
  }
  const triggers = new Map<string, Entry<Trigger>>();
  for (const { name, file } of yamlFiles(dir, 'triggers', problems)) {
    const e = read<Trigger>(file, 'trigger', name);
    if (e) triggers.set(name, e);
  }
  const templates = new Map<string, TemplateEntry>();
  for (const name of templateDirs(dir, problems)) {
    const file = `templates/${name}/template.yaml`;
    if (!workspaceEntryExists(dir, file)) {
      problems.push(layoutProblem(`templates/${name}`, `template folder "${name}" has no template.yaml`, 'add template.yaml with at least a subject per locale'));
      continue;
    }
    const e = read<Template>(file, 'template', name);
    const previewFile = `templates/${name}/preview.yaml`;
    const preview = workspaceEntryExists(dir, previewFile) ? read<Preview>(previewFile, 'preview', name) : undefined;
    const files = templateFiles(dir, name, problems);
    const push: Record<string, Entry<PushNotification>> = {};
    for (const [locale, pushFile] of Object.entries(files.pushFiles)) {
      const p = read<PushNotification>(pushFile, 'push', name);
      if (p) push[locale] = p;
    }
    if (e) templates.set(name, { ...e, bodies: files.bodies, texts: files.texts, sms: files.sms, push, ...(preview ? { preview } : {}) });
  }
  const partials = partialFiles(dir, problems);

  // A file that failed its schema is left out of the model; rules over the rest
  // still run, but references to the failed file would only repeat the error.
  const failedFiles = filesWithProblems(problems, tolerated);
  if (!project) return { problems, failed: failedFiles };
  const workspace: Workspace = { dir, project, segments, lists, templates, partials, campaigns, triggers };
  problems.push(...checkRules(workspace, failedFiles));
  return { workspace, problems: sortProblems(problems), failed: filesWithProblems(problems, tolerated) };
}

function filesWithProblems(problems: Problem[], tolerated: Set<Problem>): Set<string> {
  return new Set(problems.filter((p) => !tolerated.has(p)).map((p) => p.file));
}

/** Deletes the keys at `paths` from a parsed document; false if one is not where the schema said. */
function withoutKeys(value: unknown, paths: PathSegment[][]): boolean {
  for (const path of paths) {
    let node: unknown = value;
    for (const seg of path.slice(0, -1)) node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[seg] : undefined;
    const key = path[path.length - 1]!;
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, key)) return false;
    delete (node as Record<string, unknown>)[key];
  }
  return true;
}

export function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

/** Report files herald writes itself, by the campaign name that would collide with them. */
const RESERVED_REPORTS: Record<string, string> = {
  index: 'the overview of all mailings (reports/index.md)',
  calendar: 'the calendar of sends (reports/calendar.md and .ics)',
};

/** The names in a workspace folder; a missing folder is empty, one that cannot be listed a problem. */
function folderNames(dir: string, folder: string, problems: Problem[]): string[] {
  if (!workspaceEntryExists(dir, folder)) return [];
  const listed = listWorkspaceDir(dir, folder);
  if (listed.problem) problems.push(listed.problem);
  return listed.names ?? [];
}

function yamlFiles(dir: string, folder: string, problems: Problem[]): { name: string; file: string }[] {
  const out: { name: string; file: string }[] = [];
  for (const f of folderNames(dir, folder, problems)) {
    if (f.startsWith('.') || f.toLowerCase() === 'readme.md') continue;
    const file = `${folder}/${f}`;
    // lists/ also holds the CSV files that the list definitions name.
    if (folder === 'lists' && f.endsWith('.csv')) continue;
    if (f.endsWith('.yml')) {
      problems.push(layoutProblem(file, `"${f}" ends in .yml`, `rename it to ${f.replace(/\.yml$/, '.yaml')}`));
      continue;
    }
    if (!f.endsWith('.yaml')) {
      problems.push(layoutProblem(file, `"${f}" is not a .yaml file`, `${folder}/ holds only <name>.yaml files`));
      continue;
    }
    const name = f.slice(0, -'.yaml'.length);
    if (!NAME.test(name)) {
      problems.push(layoutProblem(file, `"${name}" is not a valid name`, 'use lower-case letters, digits, - and _'));
      continue;
    }
    // reports/index.* and reports/calendar.* are herald's own: a campaign of either name would overwrite them.
    const reserved = folder === 'campaigns' ? RESERVED_REPORTS[name] : undefined;
    if (reserved) {
      problems.push(layoutProblem(file, `"${name}" is reserved for ${reserved}`, 'give the campaign another name'));
      continue;
    }
    out.push({ name, file });
  }
  return out;
}

function templateDirs(dir: string, problems: Problem[]): string[] {
  const out: string[] = [];
  for (const f of folderNames(dir, 'templates', problems)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    const { kind, problem } = workspacePathKind(dir, `templates/${f}`);
    if (problem) {
      problems.push(problem);
      continue;
    }
    if (kind !== 'folder') {
      problems.push(layoutProblem(`templates/${f}`, `"${f}" is not a template folder`, 'a template is a folder templates/<name>/ with template.yaml and <locale>.mjml'));
      continue;
    }
    if (!NAME.test(f)) {
      problems.push(layoutProblem(`templates/${f}`, `"${f}" is not a valid name`, 'use lower-case letters, digits, - and _'));
      continue;
    }
    out.push(f);
  }
  return out;
}

/** <locale>.mjml and <locale>.txt for email, sms.<locale>.txt, push.<locale>.yaml. */
const LOCALE_FILE = /^(?:(sms|push)\.)?([a-z]{2}(?:-[A-Z]{2})?)\.(mjml|txt|yaml)$/;

/** The files of each channel beside a template.yaml; push files by path, read against their schema by the caller. */
function templateFiles(dir: string, name: string, problems: Problem[]): Pick<TemplateEntry, 'bodies' | 'texts' | 'sms'> & { pushFiles: Record<string, string> } {
  const bodies: Record<string, TextFile> = {};
  const texts: Record<string, TextFile> = {};
  const sms: Record<string, TextFile> = {};
  const pushFiles: Record<string, string> = {};
  for (const f of folderNames(dir, `templates/${name}`, problems)) {
    if (f === 'template.yaml' || f === 'preview.yaml' || f.startsWith('.')) continue;
    const file = `templates/${name}/${f}`;
    const m = LOCALE_FILE.exec(f);
    const [channel, locale, ext] = m ? [m[1], m[2]!, m[3]] : [];
    const fits = channel === 'sms' ? ext === 'txt' : channel === 'push' ? ext === 'yaml' : ext === 'mjml' || ext === 'txt';
    if (!m || !locale || !fits) {
      problems.push(layoutProblem(file, `unexpected file "${f}" in template "${name}"`, 'a template folder holds template.yaml, <locale>.mjml and <locale>.txt for email, sms.<locale>.txt and push.<locale>.yaml (for example en.mjml, en.txt, sms.en.txt, push.en.yaml)'));
      continue;
    }
    if (channel === 'push') {
      pushFiles[locale] = file;
      continue;
    }
    // A file that cannot be read is reported, and kept empty so that it is not also reported missing.
    const read = readWorkspaceText(dir, file);
    if (read.problem) problems.push(read.problem);
    (channel === 'sms' ? sms : ext === 'mjml' ? bodies : texts)[locale] = { file, text: read.text ?? '' };
  }
  return { bodies, texts, sms, pushFiles };
}

/** templates/_partials/: MJML fragments that templates include with <mj-include path="../_partials/x.mjml" />. */
function partialFiles(dir: string, problems: Problem[]): Map<string, TextFile> {
  const out = new Map<string, TextFile>();
  for (const f of folderNames(dir, 'templates/_partials', problems)) {
    if (!f.endsWith('.mjml')) continue;
    const file = `templates/_partials/${f}`;
    const read = readWorkspaceText(dir, file);
    if (read.problem) problems.push(read.problem);
    out.set(f, { file, text: read.text ?? '' });
  }
  return out;
}

function layoutProblem(file: string, message: string, hint: string): Problem {
  return { file, line: 1, column: 1, message, rule: 'layout', severity: 'error', hint };
}
