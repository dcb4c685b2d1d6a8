// The SMTP sink the sending benches deliver to (bench/send-sink.mjs), in a
// process of its own, reached over IPC: its port and pid, take() the tally
// since the last take (with the Message-IDs when `ids`), close().
import { join } from 'node:path';
import { forkPeer } from './peer.mjs';

/** Starts the sink; `stock` keeps smtp-server's 100 ms greeting pause. */
export async function startSink(stock = false) {
  const peer = await forkPeer(join(import.meta.dirname, '..', 'send-sink.mjs'), stock ? ['stock'] : [], 'sink');
  return {
    port: peer.port,
    pid: peer.pid,
    /** The tally since the last take. */
    take: (ids = false) => peer.ask({ take: true, ids }),
    close: peer.close,
  };
}
