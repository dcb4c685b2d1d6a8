// The SMS provider of `npm run bench -- sms`, in its own process (forked by
// bench/sms.mjs, which reaches it over IPC), so neither herald nor the
// baselines share an event loop with it: a Twilio-shaped Messages API on
// 127.0.0.1 (node:http, any port). Every POST to
// /2010-04-01/Accounts/<sid>/Messages.json with the right basic auth and a
// To is answered 201 {"sid": "SM…", "status": "queued"} after a fixed
// latency (argv[2], milliseconds; 0 answers at once), as a real API takes a
// while to answer; anything else is answered 400 and counted as refused.
// The parent asks for the tally of a phase with { take: true }: requests
// answered 201, distinct To numbers among them, numbers that came more than
// once, and refused requests; taking it starts the next tally.
// Not a benchmark to run on its own.
import { createServer } from 'node:http';

const latency = Number(process.argv[2] ?? 0);
const sid = process.argv[3];
const auth = `Basic ${Buffer.from(`${sid}:${process.argv[4]}`).toString('base64')}`;
const path = `/2010-04-01/Accounts/${sid}/Messages.json`;

let tally = fresh();
function fresh() {
  return { accepted: 0, refused: 0, to: new Map() };
}
let n = 0;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const to = form.get('To');
    const answer = () => {
      if (req.method !== 'POST' || req.url !== path || req.headers.authorization !== auth || !to || !form.get('Body')) {
        tally.refused++;
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 21604, message: 'bench peer: not a request it expected', status: 400 }));
        return;
      }
      tally.accepted++;
      tally.to.set(to, (tally.to.get(to) ?? 0) + 1);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sid: `SM${(++n).toString(16).padStart(32, '0')}`, status: 'queued' }));
    };
    if (latency > 0) setTimeout(answer, latency);
    else answer();
  });
});
// Clients keep their connections between requests, as they would to Twilio.
server.keepAliveTimeout = 60_000;

server.on('error', (e) => process.send({ error: String(e?.message ?? e) }));

process.on('message', (m) => {
  if (m.take) {
    const { accepted, refused, to } = tally;
    tally = fresh();
    let twice = 0;
    for (const k of to.values()) if (k > 1) twice++;
    process.send({ accepted, refused, distinct: to.size, twice });
  } else if (m.close) {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});

// A bench that dies (Ctrl-C, a crash) takes its peer with it.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
