import { createLog } from '../../log.js';
import { serverDeps } from '../../http/deps.js';
import { createTrackingServer, listen } from '../../http/server.js';
import { print, validWorkspace, withDb, type GlobalOptions } from '../context.js';
import { port as portNumber } from '../options.js';

interface ServeOpts extends GlobalOptions {
  port: string;
  host: string;
}

/**
 * `herald serve`: the tracking server (opens, clicks, unsubscribe, health)
 * until SIGTERM or SIGINT, which stop it taking requests, write every event
 * it holds, and exit 0. It reads herald.yaml as deployed, the one messages
 * were rendered from (so a server needs no checkout of the workspace), or
 * the working copy's before anything was applied.
 */
export default async function serve(_args: string[], opts: ServeOpts): Promise<void> {
  const port = portNumber(opts.port);
  const log = createLog();
  let stop: () => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    const on = (signal: string) => () => resolve(signal);
    const term = on('SIGTERM');
    const int = on('SIGINT');
    process.once('SIGTERM', term);
    process.once('SIGINT', int);
    stop = () => {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
    };
  });
  try {
    await withDb(opts, async (db) => {
      const deps = await serverDeps(db, log, async () => (await validWorkspace(opts)).project.spec);
      const server = await createTrackingServer(deps);
      try {
        const url = await listen(server, { port, host: opts.host });
        print(`herald serve: listening on ${url} (tracking.base_url ${deps.project.tracking.base_url})`);
        const signal = await stopped;
        log.info({ signal, pending: server.events.pending }, 'stopping: finishing requests and writing held events');
      } finally {
        await server.close();
      }
      log.info({ written: server.events.written }, 'stopped');
    });
  } finally {
    stop();
  }
}
