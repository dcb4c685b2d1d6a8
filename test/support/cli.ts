import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './workspace.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/, built by `npm test`'s pretest) as a subprocess. */
export function herald(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'dist', 'cli', 'main.js'), ...args],
      { env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', HERALD_SMTP_URL: '', GITHUB_ACTIONS: '', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
