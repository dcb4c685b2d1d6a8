import { accessSync, appendFileSync, constants } from 'node:fs';

/**
 * Appends Markdown to the job summary, the file GitHub names in
 * GITHUB_STEP_SUMMARY. The summary is a courtesy: when the file is missing or
 * cannot be written (a container without the runner's folder mounted), the
 * command's work stands and this returns the warning to show.
 */
export function appendStepSummary(file: string, markdown: string): string | undefined {
  try {
    // The runner creates the file: one that is missing means a folder nobody reads, so it is not created here.
    accessSync(file, constants.W_OK);
    appendFileSync(file, markdown.endsWith('\n') ? `${markdown}\n` : `${markdown}\n\n`);
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a folder' : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.message;
    return `the GitHub job summary was not written to ${file}: ${why}`;
  }
}
