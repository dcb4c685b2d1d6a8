import { appendFileSync, readFileSync } from 'node:fs';
import { UserError } from '../../errors.js';
import { gitCommit } from '../../git/commit.js';
import { eventPullRequest } from '../../ci/event.js';
import { connectGitHub, reviewedFingerprint, upsertComment } from '../../ci/github.js';
import { bodyMarker, isEnvironmentName } from '../../ci/marker.js';
import { print, workspaceDir, type GlobalOptions } from '../context.js';
import { positiveInt } from '../options.js';

interface CommentOptions extends GlobalOptions {
  marker?: string;
  pr?: string;
  bodyFile: string;
}

/** `herald github comment`: post the body on the pull request, or update herald's comment from before. */
export async function comment(_args: string[], opts: CommentOptions): Promise<void> {
  const body = readBody(opts.bodyFile);
  const marker = opts.marker ?? bodyMarker(body);
  if (marker === undefined) throw new UserError("the body's first line is not an HTML comment to find it again by", 'give --marker, or open the body with a marker such as <!-- herald:preview -->');
  const pr = opts.pr !== undefined ? positiveInt(opts.pr, '--pr', 42) : eventPullRequest(process.env);
  const r = await upsertComment(connectGitHub(), pr, marker, body);
  const what = { created: 'Posted the comment on', updated: 'Updated the comment on', unchanged: 'The comment is already up to date on' }[r.action];
  print(`${what} pull request #${pr}: ${r.url}`);
}

/** `herald github reviewed`: the review fingerprint approved on the pull request that brought a commit. */
export async function reviewed(_args: string[], opts: GlobalOptions & { commit?: string }): Promise<void> {
  const environment = opts.env ?? null;
  if (environment !== null && !isEnvironmentName(environment)) throw new UserError(`--env ${JSON.stringify(environment)} is not an environment name`, 'environments are named as in herald.yaml: lowercase letters, digits, - and _');
  const commit = opts.commit ?? (process.env.GITHUB_SHA || gitCommit(workspaceDir(opts)).commit);
  if (!commit) throw new UserError('no commit to look up', 'give --commit <sha>; in GitHub Actions GITHUB_SHA names it');
  if (!/^[0-9a-f]{7,40}$/i.test(commit)) throw new UserError(`--commit ${JSON.stringify(commit)} is not a commit hash`, 'give the hash, e.g. --commit "$GITHUB_SHA"');
  const r = await reviewedFingerprint(connectGitHub(), commit, environment);
  print(r.review);
  // For the steps after this one: `steps.<id>.outputs.fingerprint` and `.pr`.
  if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `fingerprint=${r.review}\npr=${r.pullRequest}\n`);
}

function readBody(file: string): string {
  let body: string;
  try {
    body = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the comment body from ${file === '-' ? 'standard input' : file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!body.trim()) throw new UserError(`the comment body in ${file === '-' ? 'standard input' : file} is empty`, 'herald plan --format markdown > body.md writes one');
  return body;
}
