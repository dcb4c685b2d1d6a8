import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.js';

/**
 * ESP webhooks (bounces and complaints) under `/webhooks/<esp>`: registered
 * by server.ts under the `/webhooks` prefix with the server's deps. Nothing
 * yet; the bounce handling fills it in.
 */
export async function webhookRoutes(_app: FastifyInstance, _deps: ServerDeps): Promise<void> {}
