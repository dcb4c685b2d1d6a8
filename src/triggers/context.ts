import type { Queryable } from '../db/db.js';
import { createChannelRenderer } from '../render/channels.js';
import { UserError } from '../errors.js';
import { linkSecret } from '../links/secret.js';
import type { MessageSource, TemplateSpec } from '../render/message.js';
import { loadDeployed } from '../state/queries.js';
import { sourceSchema, type Project, type Trigger } from '../workspace/model.js';
import { contactPolicy } from '../ledger/source.js';
import type { SourceContext } from '../ledger/worker.js';
import { exitReasonSql } from './exits.js';
import { loadTriggerExtras } from './extras.js';

/**
 * Everything a worker needs to send a deployed trigger's messages: its
 * template, its contact policy, its exit conditions (checked in the claim)
 * and the event data of each claimed batch (carts, orders, products), loaded
 * in one query per kind of data.
 */
export async function loadTriggerContext(db: Queryable, name: string, now: () => Date): Promise<SourceContext> {
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const find = <T>(kind: string, n: string) => deployed.find((d) => d.kind === kind && d.name === n)?.spec as T | undefined;
  const trigger = find<Trigger>('trigger', name);
  if (!trigger) throw new UserError(`trigger "${name}" is not deployed`, `check triggers/${name}.yaml and run \`herald apply\``);
  const project = find<Project>('project', 'herald')!;
  const template = find<TemplateSpec>('template', trigger.template);
  if (!template) throw new UserError(`template "${trigger.template}" of trigger "${name}" is not deployed`, 'run `herald apply`');
  const schema = sourceSchema(project);
  const secret = await linkSecret(db, project.tracking?.secret_env ?? 'HERALD_SECRET');
  const message: MessageSource = {
    kind: 'trigger',
    name,
    title: trigger.description ?? name,
    personalizedGreeting: true,
    templateName: trigger.template,
    template,
    ...(trigger.tracking ? { tracking: trigger.tracking } : {}),
  };
  const cancelled = project.source?.cancelled_statuses ?? ['cancelled'];
  return {
    ref: { kind: 'trigger', name },
    project,
    schema,
    lists: [],
    renderer: createChannelRenderer({ project, secret, now: now() }),
    policy: contactPolicy('trigger', trigger, project),
    exitSql: (param) => exitReasonSql(trigger, { schema, cancelled }, param),
    message: () => message,
    async extras(batch) {
      return loadTriggerExtras(db, {
        schema,
        project,
        trigger,
        name,
        rows: batch.map((m) => ({ id: m.id, site: m.site, locale: m.locale, customer_id: m.customer_id, payload: m.payload })),
      });
    },
  };
}
