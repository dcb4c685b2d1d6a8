import { readdirSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Db } from '../db/db.js';
import { formatProblem } from '../errors.js';
import type { Log } from '../log.js';
import { validateWorkspace } from '../workspace/validate.js';
import { admit } from './access.js';
import { smsLine } from './channel-cells.js';
import { previewCells, renderCells, type RenderedCell } from './render.js';
import { loadSamples } from './samples.js';

/**
 * `herald preview --serve`: a local page for template authors. Pick a message,
 * site, locale and sample customer; every save in the workspace re-renders,
 * and the page follows through server-sent events. Invalid files show their
 * problems in the page instead of stopping the server.
 */
export interface PreviewServer {
  url: string;
  /** Stops watching and serving, after a render in progress. */
  close(): Promise<void>;
}

interface State {
  version: number;
  cells: RenderedCell[];
  errors: string[];
  samples: string;
}

export async function startPreviewServer(dir: string, o: { port: number; db?: Db; log?: Log }): Promise<PreviewServer> {
  let state: State = { version: 0, cells: [], errors: [], samples: '' };
  const clients = new Set<ServerResponse>();

  const rebuild = async (before?: () => void) => {
    let next: State;
    try {
      before?.();
      const { workspace, problems } = await validateWorkspace(dir, { cache: true });
      const errors = problems.filter((p) => p.severity === 'error').map(formatProblem);
      if (!workspace || errors.length > 0) next = { ...state, version: state.version + 1, errors };
      else {
        const samples = await loadSamples(workspace, o.db ? { db: o.db } : {});
        const cells = await renderCells(workspace, previewCells(workspace, samples), samples, new Date());
        next = { version: state.version + 1, cells, errors: [], samples: samples.description };
      }
    } catch (e) {
      next = { ...state, version: state.version + 1, errors: [(e as Error).message] };
    }
    state = next;
    for (const c of clients) c.write(`event: change\ndata: ${state.version}\n\n`);
  };
  await rebuild();

  // Saves come in bursts (an editor writes, renames, touches); render once after they settle.
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  let closed = false;
  const folders = watchFolders(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // Rewatch before reading: a folder made or replaced since is watched from now on, and what changed before is read.
      running = running.then(() => (closed ? undefined : rebuild(folders.rewatch)));
    }, 100);
  });

  let port = o.port;
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const admitted = admit(req, port);
    if ('refusal' in admitted) {
      const { status, message, headers } = admitted.refusal;
      return send(res, status, 'text/plain; charset=utf-8', `${message}\n`, headers);
    }
    const { route } = admitted;
    if (route.kind === 'page') return send(res, 200, 'text/html; charset=utf-8', PAGE);
    if (route.kind === 'state') {
      const cells = state.cells.map((c) => ({ id: c.id, row: c.row, channel: c.channel, site: c.site, locale: c.locale, recipient: c.recipient.email, ...headline(c), problems: c.problems }));
      return send(res, 200, 'application/json', JSON.stringify({ version: state.version, samples: state.samples, errors: state.errors, cells }));
    }
    if (route.kind === 'events') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(`event: hello\ndata: ${state.version}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    const cell = route.kind === 'render' ? state.cells.find((c) => c.id === route.id) : undefined;
    if (cell) {
      // A message runs no script here, as in a mail client; sandboxed, it cannot read the server's other answers either.
      const sandbox = { 'content-security-policy': 'sandbox allow-popups allow-popups-to-escape-sandbox' };
      const html = route.kind === 'render' && route.ext === 'html';
      return send(res, 200, html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8', html ? cell.html : cell.text, sandbox);
    }
    send(res, 404, 'text/plain', 'not found');
  };
  const server = createServer((req, res) => {
    try {
      answer(req, res);
    } catch (e) {
      // Whatever a request holds, the server keeps serving the author.
      o.log?.warn({ err: String(e), url: req.url }, 'preview server: request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: previews show customer data.
    server.listen(o.port, '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      closed = true;
      folders.close();
      clearTimeout(timer);
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await running;
    },
  };
}

/** Workspace paths whose changes are not the author's: herald's cache, git, installed packages, reports, editors' dotfiles. */
function ignored(path: string): boolean {
  return /^(node_modules|reports)(\/|$)/.test(path) || /(^|\/)\./.test(path);
}

/**
 * Watches each folder of the workspace on its own and calls `changed` when
 * anything not ignored changes. Not fs.watch's `recursive`: Node 20 emulates it
 * on Linux with a watch per file, which stays on a file that an editor replaced
 * by renaming (vim, JetBrains IDEs, git checkout) and misses every later save
 * to it. A folder's watch sees its entries, whatever file they are now.
 * `rewatch` takes in folders made or replaced since.
 */
function watchFolders(dir: string, changed: () => void): { rewatch(): void; close(): void } {
  let watchers: FSWatcher[] = [];
  const walk = (rel: string, into: FSWatcher[]) => {
    try {
      const w = watch(join(dir, rel), (_event, name) => {
        const path = name ? (rel ? `${rel}/${name}` : name) : rel;
        if (!ignored(path)) changed();
      });
      // Some platforms report a watched folder's removal as an error; the next rewatch drops it.
      w.on('error', () => w.close());
      into.push(w);
      for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory() && !ignored(path)) walk(path, into);
      }
    } catch (e) {
      // Removed, or replaced by a file, since its folder was listed: the next rewatch sees what is there.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
  };
  const close = () => {
    for (const w of watchers) w.close();
    watchers = [];
  };
  const rewatch = () => {
    const next: FSWatcher[] = [];
    try {
      walk('', next);
    } catch (e) {
      for (const w of next) w.close();
      throw e;
    }
    close();
    watchers = next;
  };
  rewatch();
  return { rewatch, close };
}

/** What the page's header shows of a cell: an email's subject, preheader, From and size; an SMS's encoding and parts; a notification's title. */
function headline(c: RenderedCell): { subject: string; preheader: string; from: string; kb: number | null } {
  if (c.channel === 'sms') return { subject: 'SMS', preheader: smsLine(c.sms), from: '', kb: null };
  if (c.channel === 'push') return { subject: c.push.title, preheader: 'Push notification', from: '', kb: null };
  return { subject: c.subject, preheader: c.preheader, from: c.from, kb: Math.round(c.bytes / 102.4) / 10 };
}

/** On every answer: no other site embeds, frames or sniffs what the server says. */
const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'same-origin', 'x-frame-options': 'SAMEORIGIN' };

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>herald preview</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: 340px 1fr; height: 100vh; color: #1f2937; }
  aside { padding: 16px; border-right: 1px solid #e5e7eb; overflow: auto; }
  label { display: block; margin: 10px 0 2px; color: #6b7280; }
  select { width: 100%; }
  main { display: grid; grid-template-rows: auto 1fr; }
  #meta { padding: 12px 16px; border-bottom: 1px solid #e5e7eb; }
  #subject { font-weight: 600; }
  iframe { border: 0; width: 100%; height: 100%; }
  .widths button { margin-right: 4px; }
  .error { color: #b91c1c; white-space: pre-wrap; }
  .warning { color: #b45309; }
</style>
</head>
<body>
<aside>
  <h1>herald preview</h1>
  <label for="row">Message</label><select id="row"></select>
  <label for="channel">Channel</label><select id="channel"></select>
  <label for="site">Site</label><select id="site"></select>
  <label for="locale">Locale</label><select id="locale"></select>
  <label for="sample">Sample customer</label><select id="sample"></select>
  <p class="widths">Width: <button data-w="600">600 px</button><button data-w="375">375 px</button><button data-w="">full</button></p>
  <p><a id="text" target="_blank">Text part</a></p>
  <ul id="problems"></ul>
  <p id="samples"></p>
</aside>
<main>
  <div id="meta"><div id="subject"></div><div id="preheader"></div><div id="from"></div><div id="errors" class="error"></div></div>
  <iframe id="frame" title="rendered message"></iframe>
</main>
<script>
let state = { cells: [] };
const $ = (id) => document.getElementById(id);
const dims = ['row', 'channel', 'site', 'locale', 'sample'];
const value = (c, d) => d === 'sample' ? c.recipient : c[d];
function fill(dim, cells) {
  const sel = $(dim), keep = sel.value;
  const options = [...new Set(cells.map((c) => value(c, dim)))];
  sel.replaceChildren(...options.map((o) => new Option(o, o)));
  if (options.includes(keep)) sel.value = keep;
}
function current() {
  let cells = state.cells;
  for (const d of dims) { fill(d, cells); cells = cells.filter((c) => value(c, d) === $(d).value); }
  return cells[0];
}
function show() {
  const c = current();
  $('errors').textContent = state.errors.join('\\n\\n');
  $('samples').textContent = state.samples ? 'Samples: ' + state.samples : '';
  if (!c) { $('frame').removeAttribute('src'); return; }
  $('subject').textContent = c.subject;
  $('preheader').textContent = c.preheader;
  $('from').textContent = c.from ? 'From ' + c.from + ' · ' + c.kb + ' KB' : '';
  $('problems').replaceChildren(...c.problems.map((p) => Object.assign(document.createElement('li'), { className: p.severity, textContent: p.severity + ': ' + p.message })));
  const src = '/render/' + c.id.split('/').map(encodeURIComponent).join('/') + '.html?v=' + state.version;
  if ($('frame').getAttribute('src') !== src) $('frame').setAttribute('src', src);
  $('text').href = '/render/' + c.id.split('/').map(encodeURIComponent).join('/') + '.txt';
  document.body.dataset.version = state.version;
}
async function load() { state = await (await fetch('/api/state')).json(); show(); }
for (const d of dims) $(d).addEventListener('change', show);
for (const b of document.querySelectorAll('[data-w]')) b.addEventListener('click', () => { $('frame').style.width = b.dataset.w ? b.dataset.w + 'px' : '100%'; });
new EventSource('/events').addEventListener('change', load);
load();
</script>
</body>
</html>
`;
