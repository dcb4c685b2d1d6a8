import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, type Problem } from '../errors.js';
import { checkSchema, type SchemaKind } from './schema.js';
import { readYaml } from './source.js';
import { checkRules } from './rules.js';
import type { Campaign, Entry, List, ListEntry, Preview, Project, Segment, Template, TemplateEntry, TextFile, Trigger, Workspace } from './model.js';

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export interface LoadResult {
  /** Present when the files could be read into a model, even if rules found problems. */
  workspace?: Workspace;
  /** Errors and warnings, every one located. */
  problems: Problem[];
}

/**
 * Reads and checks a workspace: YAML syntax, then each file's JSON Schema, then
 * cross-file rules. Never stops at the first problem, and never throws for bad
 * input; only a missing workspace is a UserError.
 */
export function loadWorkspace(dir: string): LoadResult {
  if (!existsSync(join(dir, 'herald.yaml'))) {
    throw new UserError(
      `no herald.yaml in ${dir}`,
      'run herald in a workspace directory, pass --dir DIR, or create one with `herald init`',
    );
  }
  const problems: Problem[] = [];
  const read = <T>(file: string, kind: SchemaKind, name: string): Entry<T> | undefined => {
    const { source, problems: yamlProblems } = readYaml(dir, file);
    problems.push(...yamlProblems);
    if (!source) return undefined;
    const schemaProblems = checkSchema(kind, source);
    problems.push(...schemaProblems);
    if (schemaProblems.length > 0) return undefined;
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
    if (e) lists.set(name, { ...e, csv: `lists/${e.spec.file}` });
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
    if (!existsSync(join(dir, file))) {
      problems.push(layoutProblem(`templates/${name}`, `template folder "${name}" has no template.yaml`, 'add template.yaml with at least a subject per locale'));
      continue;
    }
    const e = read<Template>(file, 'template', name);
    const previewFile = `templates/${name}/preview.yaml`;
    const preview = existsSync(join(dir, previewFile)) ? read<Preview>(previewFile, 'preview', name) : undefined;
    if (e) templates.set(name, { ...e, ...templateFiles(dir, name, problems), ...(preview ? { preview } : {}) });
  }

  // A file that failed its schema is left out of the model; rules over the rest
  // still run, but references to the failed file would only repeat the error.
  const failedFiles = new Set(problems.map((p) => p.file));
  if (!project) return { problems };
  const workspace: Workspace = { dir, project, segments, lists, templates, partials: partialFiles(dir), campaigns, triggers };
  problems.push(...checkRules(workspace, failedFiles));
  return { workspace, problems: sortProblems(problems) };
}

export function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

function yamlFiles(dir: string, folder: string, problems: Problem[]): { name: string; file: string }[] {
  const path = join(dir, folder);
  if (!existsSync(path)) return [];
  const out: { name: string; file: string }[] = [];
  for (const f of readdirSync(path).sort()) {
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
    out.push({ name, file });
  }
  return out;
}

function templateDirs(dir: string, problems: Problem[]): string[] {
  const path = join(dir, 'templates');
  if (!existsSync(path)) return [];
  const out: string[] = [];
  for (const f of readdirSync(path).sort()) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    if (!statSync(join(path, f)).isDirectory()) {
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

const LOCALE_FILE = /^([a-z]{2}(?:-[A-Z]{2})?)\.(mjml|txt)$/;

/** The <locale>.mjml bodies and <locale>.txt parts beside a template.yaml. */
function templateFiles(dir: string, name: string, problems: Problem[]): Pick<TemplateEntry, 'bodies' | 'texts'> {
  const bodies: Record<string, TextFile> = {};
  const texts: Record<string, TextFile> = {};
  for (const f of readdirSync(join(dir, 'templates', name)).sort()) {
    if (f === 'template.yaml' || f === 'preview.yaml' || f.startsWith('.')) continue;
    const file = `templates/${name}/${f}`;
    const m = LOCALE_FILE.exec(f);
    if (!m) {
      problems.push(layoutProblem(file, `unexpected file "${f}" in template "${name}"`, 'a template folder holds template.yaml, <locale>.mjml and <locale>.txt (for example en.mjml, en.txt)'));
      continue;
    }
    (m[2] === 'mjml' ? bodies : texts)[m[1]!] = { file, text: readFileSync(join(dir, file), 'utf8') };
  }
  return { bodies, texts };
}

/** templates/_partials/: MJML fragments that templates include with <mj-include path="../_partials/x.mjml" />. */
function partialFiles(dir: string): Map<string, TextFile> {
  const out = new Map<string, TextFile>();
  const path = join(dir, 'templates', '_partials');
  if (!existsSync(path)) return out;
  for (const f of readdirSync(path).sort()) {
    if (!f.endsWith('.mjml')) continue;
    const file = `templates/_partials/${f}`;
    out.set(f, { file, text: readFileSync(join(dir, file), 'utf8') });
  }
  return out;
}

function layoutProblem(file: string, message: string, hint: string): Problem {
  return { file, line: 1, column: 1, message, rule: 'layout', severity: 'error', hint };
}
