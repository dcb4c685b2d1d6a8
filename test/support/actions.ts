import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './workspace.js';

/**
 * Runs a GitHub Actions workflow's jobs on this machine, step by step, the
 * way a runner would for the parts herald's workflows use: `run:` steps in
 * bash with the GitHub environment variables (GITHUB_OUTPUT, GITHUB_PATH,
 * GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH, …), `${{ }}` expressions over the
 * github, secrets, matrix, steps and env contexts, `if:` conditions, job
 * `needs:`, and matrices. `uses:` steps: herald's own action runs its
 * composite steps from this repository's action.yml; actions/checkout uses
 * the checkout the test prepared; upload-artifact copies into a folder and
 * answers with an artifact URL; setup-node and cache are the runner's.
 * An expression or action it does not know fails the run: the test then
 * has to learn it, rather than pass over it.
 */
export interface RunnerOptions {
  /** The checked-out repository (the workspace at its root). */
  dir: string;
  /** The event payload (GITHUB_EVENT_PATH) and name. */
  event: Record<string, unknown>;
  eventName: string;
  /** GITHUB_* values: repository, sha, ref, base_ref, api_url, … */
  github: Record<string, string>;
  /** Repository secrets. */
  secrets: Record<string, string>;
  /** Each GitHub environment's own secrets, for jobs that name it (`environment:`). */
  environments?: Record<string, Record<string, string>>;
  /** Variables the machine's runner has that GitHub's would have differently (HERALD_CHROMIUM). */
  machine?: Record<string, string>;
}

export interface StepResult {
  job: string;
  name: string;
  status: 'success' | 'failure' | 'skipped';
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
}

export interface RunResult {
  steps: StepResult[];
  jobs: Record<string, 'success' | 'failure' | 'skipped'>;
  /** Every job's summary, as GitHub shows it under the run. */
  summaries: Record<string, string>;
  artifacts: Record<string, string>;
}

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  if?: string;
  shell?: string;
}

interface Job {
  needs?: string | string[];
  environment?: string;
  if?: string;
  env?: Record<string, unknown>;
  strategy?: { matrix?: Record<string, unknown[]> };
  steps: Step[];
}

interface Context {
  github: Record<string, unknown>;
  secrets: Record<string, string>;
  matrix: Record<string, unknown>;
  steps: Record<string, { outputs: Record<string, string>; outcome: string }>;
  env: Record<string, string>;
  runner: Record<string, string>;
  jobFailed: boolean;
}

export async function runWorkflow(file: string, opts: RunnerOptions): Promise<RunResult> {
  const wf = parse(readFileSync(join(opts.dir, file), 'utf8')) as { env?: Record<string, unknown>; jobs: Record<string, Job> };
  const scratch = mkdtempSync(join(tmpdir(), 'herald-runner-'));
  const eventPath = join(scratch, 'event.json');
  writeFileSync(eventPath, JSON.stringify(opts.event));
  const result: RunResult = { steps: [], jobs: {}, summaries: {}, artifacts: {} };
  const github = { ...opts.github, event: opts.event, event_name: opts.eventName, token: opts.secrets.GITHUB_TOKEN ?? 'ghs_test', workspace: opts.dir };

  const pending = Object.keys(wf.jobs);
  while (pending.length) {
    const ready = pending.find((j) => needsOf(wf.jobs[j]!).every((n) => result.jobs[n]));
    if (!ready) throw new Error(`jobs wait on each other: ${pending.join(', ')}`);
    pending.splice(pending.indexOf(ready), 1);
    const job = wf.jobs[ready]!;
    const needs = needsOf(job);
    const base: Context = { github, secrets: opts.secrets, matrix: {}, steps: {}, env: {}, runner: { os: 'Linux', temp: scratch }, jobFailed: false };
    if (needs.some((n) => result.jobs[n] !== 'success') || (job.if !== undefined && !truthy(evaluate(job.if, base)))) {
      result.jobs[ready] = 'skipped';
      continue;
    }
    let status: 'success' | 'failure' = 'success';
    for (const matrix of matrixOf(job)) {
      const label = Object.keys(matrix).length ? `${ready} (${Object.values(matrix).join(', ')})` : ready;
      const ctx = { ...base, matrix, steps: {} };
      if (job.environment !== undefined) {
        const name = interpolate(job.environment, ctx);
        const own = opts.environments?.[name];
        if (!own) throw new Error(`the job ${label} runs in the environment ${name}, which the test did not set up`);
        ctx.secrets = { ...opts.secrets, ...own };
      }
      const ok = await runJob(label, job, wf.env ?? {}, ctx, opts, scratch, eventPath, result);
      if (!ok) status = 'failure';
    }
    result.jobs[ready] = status;
  }
  return result;
}

function needsOf(job: Job): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

function matrixOf(job: Job): Record<string, unknown>[] {
  const m = job.strategy?.matrix;
  if (!m) return [{}];
  let combos: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(m)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  return combos;
}

async function runJob(
  label: string,
  job: Job,
  workflowEnv: Record<string, unknown>,
  ctx: Context,
  opts: RunnerOptions,
  scratch: string,
  eventPath: string,
  result: RunResult,
): Promise<boolean> {
  const jobDir = mkdtempSync(join(scratch, 'job-'));
  ctx.runner = { ...ctx.runner, temp: jobDir };
  const summary = join(jobDir, 'summary.md');
  const pathFile = join(jobDir, 'path');
  writeFileSync(summary, '');
  writeFileSync(pathFile, '');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...workflowEnv, ...job.env })) env[k] = interpolate(String(v), { ...ctx, env });
  ctx.env = env;
  let n = 0;
  for (const step of job.steps) {
    const name = step.name ?? step.uses ?? step.run!.split('\n')[0]!;
    const condition = step.if ?? 'success()';
    if (!truthy(evaluate(condition, ctx))) {
      result.steps.push({ job: label, name, status: 'skipped', stdout: '', stderr: '', outputs: {} });
      if (step.id) ctx.steps[step.id] = { outputs: {}, outcome: 'skipped' };
      continue;
    }
    const output = join(jobDir, `output-${n++}`);
    writeFileSync(output, '');
    const stepEnv: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = interpolate(String(v), ctx);
    const vars: Record<string, string> = {
      ...githubVariables(opts, eventPath),
      RUNNER_TEMP: jobDir,
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_PATH: pathFile,
      ...stepEnv,
      ...opts.machine,
    };
    let r: { code: number; stdout: string; stderr: string; outputs: Record<string, string> };
    if (step.run !== undefined) {
      r = await bash(interpolate(step.run, ctx), opts.dir, vars, pathFile, output);
    } else if (step.uses) {
      const w: Record<string, string> = {};
      for (const [k, v] of Object.entries(step.with ?? {})) w[k] = interpolate(String(v), ctx);
      r = await uses(step.uses, w, opts, vars, pathFile, output, result);
    } else throw new Error(`a step with neither run nor uses: ${JSON.stringify(step)}`);
    const status = r.code === 0 ? 'success' : 'failure';
    result.steps.push({ job: label, name, status, stdout: r.stdout, stderr: r.stderr, outputs: r.outputs });
    if (step.id) ctx.steps[step.id] = { outputs: r.outputs, outcome: status };
    if (status === 'failure') ctx.jobFailed = true;
  }
  result.summaries[label] = readFileSync(summary, 'utf8');
  return !ctx.jobFailed;
}

function githubVariables(opts: RunnerOptions, eventPath: string): Record<string, string> {
  const out: Record<string, string> = { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_EVENT_PATH: eventPath, GITHUB_EVENT_NAME: opts.eventName, GITHUB_WORKSPACE: opts.dir };
  for (const [k, v] of Object.entries(opts.github)) out[`GITHUB_${k.toUpperCase()}`] = v;
  return out;
}

/** What earlier steps added to GITHUB_PATH comes first on PATH, as on a runner. */
function pathWith(pathFile: string): string {
  const added = readFileSync(pathFile, 'utf8').split('\n').filter(Boolean).reverse();
  return [...added, process.env.PATH ?? ''].join(':');
}

async function bash(script: string, cwd: string, vars: Record<string, string>, pathFile: string, output: string) {
  // What the test runner itself was given must not leak into the job: only what the workflow sets.
  const machine: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(machine)) if (k.startsWith('HERALD_') || k.startsWith('GITHUB_') || k.startsWith('VITEST') || k === 'NODE_OPTIONS') delete machine[k];
  const env: NodeJS.ProcessEnv = { ...machine, ...vars, PATH: pathWith(pathFile) };
  const r = await spawnCollect('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], cwd, env);
  return { ...r, outputs: readOutputs(output) };
}

function spawnCollect(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** GITHUB_OUTPUT: `name=value` lines, or `name<<DELIM` … `DELIM` blocks. */
function readOutputs(file: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      out[heredoc[1]!] = value.join('\n');
    } else if (line.includes('=')) out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return out;
}

async function uses(
  ref: string,
  w: Record<string, string>,
  opts: RunnerOptions,
  vars: Record<string, string>,
  pathFile: string,
  output: string,
  result: RunResult,
): Promise<{ code: number; stdout: string; stderr: string; outputs: Record<string, string> }> {
  const ok = (outputs: Record<string, string> = {}) => ({ code: 0, stdout: '', stderr: '', outputs });
  const name = ref.slice(0, ref.indexOf('@'));
  if (name === 'actions/checkout') return ok();
  if (name === 'actions/setup-node') {
    const major = Number(process.versions.node.split('.')[0]);
    return major >= Number(w['node-version']) ? ok() : { code: 1, stdout: '', stderr: `node ${process.versions.node} is older than ${w['node-version']}`, outputs: {} };
  }
  if (name === 'actions/cache') return ok({ 'cache-hit': 'false' });
  if (name === 'actions/upload-artifact') {
    const dest = join(mkdtempSync(join(tmpdir(), 'herald-artifact-')), w.name!);
    mkdirSync(dest, { recursive: true });
    if (!existsSync(resolve(opts.dir, w.path!)) && w['if-no-files-found'] === 'ignore') return ok();
    cpSync(resolve(opts.dir, w.path!), join(dest, w.path!.split('/').pop()!), { recursive: true });
    result.artifacts[w.name!] = dest;
    const id = Object.keys(result.artifacts).length;
    return ok({ 'artifact-id': String(id), 'artifact-url': `${opts.github.server_url}/${opts.github.repository}/actions/runs/${opts.github.run_id}/artifacts/${id}` });
  }
  if (/\/herald$/.test(name)) {
    // herald's action: its composite steps, from this repository's action.yml.
    const action = parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8')) as { runs: { using: string; steps: Step[] } };
    if (action.runs.using !== 'composite') throw new Error('action.yml is not a composite action');
    const all = { code: 0, stdout: '', stderr: '', outputs: {} as Record<string, string> };
    const ctx: Context = { github: {}, secrets: {}, matrix: {}, steps: {}, env: {}, runner: { os: 'Linux' }, jobFailed: false };
    for (const step of action.runs.steps) {
      const r = step.run
        ? await bash(interpolate(step.run, ctx), opts.dir, { ...vars, GITHUB_ACTION_PATH: repoRoot }, pathFile, output)
        : await uses(step.uses!, Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, interpolate(String(v), ctx)])), opts, vars, pathFile, output, result);
      if (step.id) ctx.steps[step.id] = { outputs: r.outputs, outcome: r.code === 0 ? 'success' : 'failure' };
      all.stdout += r.stdout;
      all.stderr += r.stderr;
      if (r.code !== 0) return { ...all, code: r.code };
    }
    return all;
  }
  throw new Error(`the test runner does not know the action ${ref}`);
}

// ---- expressions: the subset herald's workflows use ----

type Value = string | number | boolean | null | Record<string, unknown> | unknown[];

function interpolate(text: string, ctx: Context): string {
  return text.replace(/\$\{\{([^}]*)\}\}/g, (_, expr: string) => {
    const v = evaluate(expr, ctx);
    return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

function truthy(v: Value | undefined): boolean {
  return !(v === false || v === null || v === undefined || v === '' || v === 0);
}

/** Literals, context paths, == != && || ! and parentheses, and success() failure() always(). */
function evaluate(expr: string, ctx: Context): Value {
  // `if:` takes its expression bare or wrapped.
  const wrapped = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(expr);
  if (wrapped) expr = wrapped[1]!;
  const tokens = expr.match(/'(?:[^']|'')*'|==|!=|&&|\|\||[()!]|[A-Za-z_][\w.-]*(?:\(\))?|\d+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const or = (): Value => {
    let v = and();
    while (peek() === '||') {
      i++;
      const r = and();
      v = truthy(v) ? v : r;
    }
    return v;
  };
  const and = (): Value => {
    let v = cmp();
    while (peek() === '&&') {
      i++;
      const r = cmp();
      v = truthy(v) ? r : v;
    }
    return v;
  };
  const cmp = (): Value => {
    const v = unary();
    if (peek() === '==' || peek() === '!=') {
      const op = tokens[i++];
      const r = unary();
      const same = String(v ?? '').toLowerCase() === String(r ?? '').toLowerCase();
      return op === '==' ? same : !same;
    }
    return v;
  };
  const unary = (): Value => {
    if (peek() === '!') {
      i++;
      return !truthy(unary());
    }
    if (peek() === '(') {
      i++;
      const v = or();
      if (tokens[i++] !== ')') throw new Error(`unbalanced parentheses in ${expr}`);
      return v;
    }
    const t = tokens[i++];
    if (t === undefined) throw new Error(`incomplete expression: ${expr}`);
    if (t.startsWith("'")) return t.slice(1, -1).replaceAll("''", "'");
    if (/^\d+$/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    if (t === 'success()') return !ctx.jobFailed;
    if (t === 'failure()') return ctx.jobFailed;
    if (t === 'always()') return true;
    if (t === 'cancelled()') return false;
    return lookup(t, ctx);
  };
  const v = or();
  if (i !== tokens.length) throw new Error(`cannot read the expression ${expr}`);
  return v;
}

function lookup(path: string, ctx: Context): Value {
  const [root, ...rest] = path.split('.');
  const roots: Record<string, unknown> = { github: ctx.github, secrets: ctx.secrets, matrix: ctx.matrix, steps: ctx.steps, env: ctx.env, runner: ctx.runner };
  if (!(root! in roots)) throw new Error(`the test runner does not know the context ${root} (in ${path})`);
  let v: unknown = roots[root!];
  for (const k of rest) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  // A missing secret or output is the empty string on GitHub too.
  return (v ?? '') as Value;
}
