import { join, relative, resolve } from 'node:path';
import { ExitError, printable, UserError } from '../../errors.js';
import { buildPreview } from '../../preview/preview.js';
import { loadSamples, type Samples } from '../../preview/samples.js';
import { jobSummaryHtml, type PreviewSummary } from '../../preview/write.js';
import { appendStepSummary } from '../../ci/summary.js';
import { dbConfigured, heraldPath, openMigratedDb, print, printJson, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';
import { artifactUrl, customerId, outputFormat, port as portNumber, type OutputFormat } from '../options.js';

interface PreviewOpts extends GlobalOptions {
  out?: string;
  customer?: string[];
  screenshots?: boolean;
  changedSince?: string;
  json?: boolean;
  format?: string;
  artifactUrl?: string;
  serve?: boolean;
  port?: string;
}

export default async function preview(_args: string[], opts: PreviewOpts): Promise<void> {
  if (opts.serve) return serve(opts);
  const format = outputFormat(opts);
  if (opts.artifactUrl !== undefined) artifactUrl(opts.artifactUrl);
  const customerIds = (opts.customer ?? []).map((c) => customerId(c));
  const ws = await validWorkspace(opts);
  const dir = workspaceDir(opts);
  const out = opts.out === undefined ? heraldPath(opts, 'preview') : resolve(dir, opts.out);
  // An --out in .herald is checked as the default is: a committed link there leads anywhere.
  if (opts.out !== undefined && !relative(join(dir, '.herald'), out).startsWith('..')) heraldPath(opts, 'preview');
  const run = async (samples: Samples) => buildPreview(ws, { out, samples, now: new Date(), screenshots: !!opts.screenshots, ...(opts.changedSince ? { changedSince: opts.changedSince } : {}) });
  const result = dbConfigured(opts)
    ? await withDb(opts, async (db) => run(await loadSamples(ws, { db, customerIds })))
    : await run(await loadSamples(ws, { customerIds }));
  await report(result.summary, out, opts, format, result.changed);
  if (result.summary.cells.some((c) => c.problems.some((p) => p.severity === 'error'))) throw new ExitError(1);
}


async function report(summary: PreviewSummary, out: string, opts: PreviewOpts, format: OutputFormat, changed?: string[]): Promise<void> {
  const rel = relative(process.cwd(), join(out, 'index.html'));
  const where = rel.startsWith('..') ? join(out, 'index.html') : rel;
  const problems = summary.cells.flatMap((c) => c.problems.map((p) => ({ cell: c.id, ...p })));
  const summaryFile = process.env.GITHUB_STEP_SUMMARY;
  const warning = summaryFile ? appendStepSummary(summaryFile, jobSummaryHtml(summary)) : undefined;
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  if (format === 'json') {
    printJson({ out, index: join(out, 'index.html'), ...(changed ? { changed } : {}), ...summary });
    return;
  }
  if (format === 'markdown') {
    const { previewMarkdown } = await import('../../ci/preview-markdown.js');
    print(previewMarkdown(summary, { ...(opts.changedSince !== undefined ? { changedSince: opts.changedSince } : {}), ...(opts.artifactUrl ? { artifactUrl: opts.artifactUrl } : {}) }));
    return;
  }
  if (changed && summary.cells.length === 0) print(`Nothing to preview: no template, campaign or trigger changed since ${opts.changedSince}.`);
  // A problem quotes the rendered message: the customer's data, the shop's product links.
  for (const p of problems) print(printable(`${p.cell}: ${p.severity}: ${p.message}`));
  const errors = problems.filter((p) => p.severity === 'error').length;
  print(
    `${summary.cells.length} message${summary.cells.length === 1 ? '' : 's'} rendered with ${summary.samples}` +
      `${opts.screenshots ? ', with screenshots' : ''}: ${errors} error${errors === 1 ? '' : 's'}, ${problems.length - errors} warning${problems.length - errors === 1 ? '' : 's'}. Open ${where}`,
  );
}

/** --serve: runs until Ctrl-C or SIGTERM. */
async function serve(opts: PreviewOpts): Promise<void> {
  const port = portNumber(opts.port ?? '4400');
  const { startPreviewServer } = await import('../../preview/serve.js');
  const db = dbConfigured(opts) ? await openMigratedDb(opts) : undefined;
  try {
    const server = await startPreviewServer(workspaceDir(opts), { port, ...(db ? { db } : {}) }).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'EADDRINUSE' ? new UserError(`port ${port} is in use`, 'pick another with --port') : e;
    });
    print(`Previewing ${workspaceDir(opts)} at ${server.url} (re-renders on save; Ctrl-C stops).`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  } finally {
    await db?.close();
  }
}
