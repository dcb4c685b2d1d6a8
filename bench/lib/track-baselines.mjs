// The baselines of `npm run bench -- track`, each in its own process (forked
// by bench/track.mjs) so it has a core to itself as herald serve does:
//   naive    node:http, the same token checks, link sets cached as herald
//            does, and one INSERT per request, awaited before answering
//   ceiling  node:http answering the pixel (or a fixed redirect) with no
//            token check and no database: as fast as Node answers at all
// Sends { port } once listening; { close: true } ends it.
import { createServer } from 'node:http';
import pg from 'pg';
import { readTrackingToken } from '../../dist/links/tracking.js';
import { PIXEL } from '../../dist/http/pages.js';

const [mode, dbUrl, secret] = process.argv.slice(2);
const pool = mode === 'naive' ? new pg.Pool({ connectionString: dbUrl, max: 10 }) : undefined;
const sets = new Map();

async function linkSet(hash) {
  if (!sets.has(hash)) sets.set(hash, (await pool.query('SELECT urls FROM herald.link_sets WHERE hash = $1', [hash])).rows[0]?.urls);
  return sets.get(hash);
}

async function naive(req, res) {
  const [, kind, token] = req.url.split('/');
  const t = readTrackingToken(token ?? '', secret);
  if (kind === 'o') {
    if (t.ok && t.link.kind === 'open') {
      await pool.query("INSERT INTO herald.message_events (message_id, kind, class, origin, at) VALUES ($1, 'open', 'human', 'pixel', now())", [t.link.message]);
    }
    res.writeHead(200, { 'content-type': 'image/gif', 'cache-control': 'no-store, private' }).end(PIXEL);
    return;
  }
  if (kind === 'c' && t.ok && t.link.kind === 'click') {
    const url = (await linkSet(t.link.set))?.[t.link.index];
    if (url) {
      await pool.query("INSERT INTO herald.message_events (message_id, kind, class, link, origin, at) VALUES ($1, 'click', 'human', $2, 'click', now())", [t.link.message, t.link.index]);
      res.writeHead(302, { location: url, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
      return;
    }
  }
  res.writeHead(404).end();
}

function ceiling(req, res) {
  if (req.url.startsWith('/c/')) res.writeHead(302, { location: 'https://shop.example.com/sale', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
  else res.writeHead(200, { 'content-type': 'image/gif', 'cache-control': 'no-store, private' }).end(PIXEL);
}

const server = createServer(mode === 'naive' ? (req, res) => void naive(req, res).catch(() => res.writeHead(500).end()) : ceiling);
process.on('message', (m) => {
  if (m.close) server.close(() => void (pool ? pool.end() : Promise.resolve()).then(() => process.exit(0)));
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
