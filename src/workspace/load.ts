import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, type Problem } from '../errors.js';
import { checkSchema, type SchemaKind } from './schema.js';
import { readYaml } from './source.js';
import { checkRules } from './rules.js';
import type { Campaign, Entry, Project, Segment, Template, TemplateEntry, Workspace } from './model.js';

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
  const campaigns = new Map<string, Entry<Campaign>>();
  for (const { name, file } of yamlFiles(dir, 'campaigns', problems)) {
    const e = read<Campaign>(file, 'campaign', name);
    if (e) campaigns.set(name, e);
  }
  const templates = new Map<string, TemplateEntry>();
  for (const name of templateDirs(dir, problems)) {
    const file = `templates/${name}/template.yaml`;
    if (!existsSync(join(dir, file))) {
      problems.push({
        file: `templates/${name}`,
        line: 1,
        column: 1,
        message: `template folder "${name}" has no template.yaml`,
        rule: 'layout',
        severity: 'error',
        hint: 'add template.yaml with at least a subject per locale',
      });
      continue;
    }
    const e = read<Template>(file, 'template', name);
    if (e) templates.set(name, { ...e, bodies: templateBodies(dir, name) });
  }

  // A file that failed its schema is left out of the model; rules over the rest
  // still run, but references to the failed file would only repeat the error.
  const failedFiles = new Set(problems.map((p) => p.file));
  if (!project) return { problems };
  const workspace: Workspace = { dir, project, segments, templates, campaigns };
  problems.push(...checkRules(workspace, failedFiles));
  return { workspace, problems: sortProblems(problems) };
}

function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

function yamlFiles(dir: string, folder: string, problems: Problem[]): { name: string; file: string }[] {
  const path = join(dir, folder);
  if (!existsSync(path)) return [];
  const out: { name: string; file: string }[] = [];
  for (const f of readdirSync(path).sort()) {
    if (f.startsWith('.') || f.toLowerCase() === 'readme.md') continue;
    const file = `${folder}/${f}`;
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

function templateBodies(dir: string, name: string): TemplateEntry['bodies'] {
  const bodies: TemplateEntry['bodies'] = {};
  for (const f of readdirSync(join(dir, 'templates', name)).sort()) {
    const m = /^([a-z]{2}(?:-[A-Z]{2})?)\.mjml$/.exec(f);
    if (!m) continue;
    const file = `templates/${name}/${f}`;
    bodies[m[1]!] = { file, mjml: readFileSync(join(dir, file), 'utf8') };
  }
  return bodies;
}

function layoutProblem(file: string, message: string, hint: string): Problem {
  return { file, line: 1, column: 1, message, rule: 'layout', severity: 'error', hint };
}
