// A bench's peer (the SMTP sink, the SMS provider) in a process of its own,
// so its work is not the measured process's, reached over IPC: the script
// sends `{ port }` once listening, answers each message in turn, reports
// `{ error }` when it fails, and exits on `{ close: true }`.
import { fork } from 'node:child_process';

/** Forks `script` with `args`: its port and pid, ask(message) for its next reply, close(). `what` names it in errors. */
export async function forkPeer(script, args, what) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  child.on('message', (m) => {
    if (m.error) throw new Error(`the ${what} failed: ${m.error}`);
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
    ask,
    close: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.send({ close: true });
      setTimeout(() => child.kill(), 5000).unref();
    }),
  };
}
