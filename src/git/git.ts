import { execFile } from 'node:child_process';
import { printable } from '../errors.js';

/**
 * git run as a program (execFile, never a shell), in a folder, with what a
 * script needs: no prompt for credentials (a CI job would hang on it), no
 * editor, and messages in English, which is what the callers recognise.
 */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function git(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', GIT_MERGE_AUTOEDIT: 'no', LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * What git said, safe to show: credentials in URLs (https://user:token@host)
 * blanked, control characters escaped, and no more than the last lines.
 */
export function gitSaid(r: GitResult, lines = 12): string {
  const text = redactUrls(`${r.stderr}\n${r.stdout}`.trim());
  return printable(text.split('\n').slice(-lines).join('\n'), { newlines: true });
}

/** https://user:token@github.com/… → https://***@github.com/… */
export function redactUrls(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@');
}
