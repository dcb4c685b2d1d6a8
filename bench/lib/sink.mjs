// The SMTP sink the sending benches deliver to (bench/send-sink.mjs), in a
// process of its own, reached over IPC: its port and pid, take() the tally
// since the last take (with the Message-IDs when `ids`), close().
import { fork } from 'node:child_process';
import { join } from 'node:path';

/** Starts the sink; `stock` keeps smtp-server's 100 ms greeting pause. */
export async function startSink(stock = false) {
  const child = fork(join(import.meta.dirname, '..', 'send-sink.mjs'), stock ? ['stock'] : [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  child.on('message', (m) => {
    if (m.error) throw new Error(`the sink failed: ${m.error}`);
    replies.shift()?.(m);
  });
  const ask = (m) => new Promise((resolve) => {
    replies.push(resolve);
    if (m) child.send(m);
  });
  const { port } = await ask();
  return {
    port,
    pid: child.pid,
    /** The tally since the last take. */
    take: (ids = false) => ask({ take: true, ids }),
    close: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.send({ close: true });
      setTimeout(() => child.kill(), 5000).unref();
    }),
  };
}
