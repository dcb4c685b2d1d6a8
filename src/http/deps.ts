import type { Db } from '../db/db.js';
import { UserError } from '../errors.js';
import { linkSecrets } from '../links/secret.js';
import { loadObject } from '../state/queries.js';
import type { Log } from '../log.js';
import type { Project } from '../workspace/model.js';

/**
 * What the tracking server's routes need, and all they share: no state of
 * their own beyond caches of immutable data, so any number of servers can
 * run behind a load balancer against one database.
 */
export interface ServerDeps {
  db: Db;
  /** herald.yaml as deployed (or the working copy's, before anything was applied). */
  project: Project;
  /** Link-signing secrets: the current one first (it signs auto-login links), then earlier ones (linkSecrets). */
  secrets: string[];
  log: Log;
  clock?: () => Date;
}

/**
 * The deps of a server over `db`: herald.yaml as deployed (else `fallback`'s,
 * for a workspace never applied) and the link secrets it names.
 */
export async function serverDeps(db: Db, log: Log, fallback?: () => Promise<Project>): Promise<ServerDeps> {
  const project = (await loadObject<Project>(db, 'project', 'herald')) ?? (await fallback?.());
  if (!project) throw new UserError('nothing is deployed in this database: the tracking server needs herald.yaml as applied', 'run `herald apply` first');
  return { db, project, secrets: await linkSecrets(db, project.tracking), log };
}
