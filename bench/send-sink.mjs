// The SMTP sink of `npm run bench -- send`, in its own process (forked by
// bench/send.mjs, which reaches it over IPC): smtp-server on 127.0.0.1, any
// port, accepting every message. Each body is read for its Message-ID, from
// the head only, and otherwise discarded. The parent asks for the tally of a
// phase with { take: true }: messages accepted, and their distinct Message-IDs
// (the ids themselves with { ids: true }); taking it starts the next tally.
// Not a benchmark to run on its own.
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

// smtp-server holds every greeting 100 ms to catch clients that talk too soon,
// with no option to turn it off. A client that opens a connection per message
// (the naive baseline) would measure that pause and nothing else (~9 messages
// a second), so this sink greets at once. Pooled clients pay it once per
// connection either way. The benches say so in their output, and bench/send
// measures its ceiling once against the stock server too.
const STOCK = process.argv[2] === 'stock';
if (!/setTimeout\(\(\) => this\.connectionReady\(\), 100\)/.test(String(SMTPConnection.prototype.init))) {
  throw new Error('smtp-server no longer pauses its greeting as bench/send-sink.mjs expects; review the patch below');
}
if (!STOCK) {
  SMTPConnection.prototype.init = function init() {
    this._setListeners(() => this.connectionReady());
  };
}

// Every header herald writes fits well within this; a Message-ID not found in it counts as missing.
const HEAD_BYTES = 4096;
const MESSAGE_ID = /^Message-ID:[ \t]*(<[^>\r\n]*>)/im;

let tally = fresh();
function fresh() {
  return { accepted: 0, missing: 0, ids: new Set() };
}

const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  authOptional: true,
  // A reverse lookup of 127.0.0.1 per connection would time the resolver, not SMTP.
  disableReverseLookup: true,
  logger: false,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (chunk) => {
      if (head.length < HEAD_BYTES) head += chunk.toString('latin1', 0, Math.min(chunk.length, HEAD_BYTES - head.length));
    });
    stream.on('end', () => {
      const id = MESSAGE_ID.exec(head)?.[1];
      tally.accepted++;
      if (id) tally.ids.add(id);
      else tally.missing++;
      callback(null, 'discarded');
    });
  },
});

server.on('error', (e) => {
  process.send({ error: String(e?.message ?? e) });
});

process.on('message', (m) => {
  if (m.take) {
    const { accepted, missing, ids } = tally;
    tally = fresh();
    process.send({ accepted, missing, distinct: ids.size, ...(m.ids ? { ids: [...ids] } : {}) });
  } else if (m.close) {
    server.close(() => process.exit(0));
  }
});

// A bench that dies (Ctrl-C, a crash) takes its sink with it.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
