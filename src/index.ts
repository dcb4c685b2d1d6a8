/**
 * herald as a library. The shop's backend needs to check the auto-login
 * tokens herald puts into messages, and may mount the tracking server's
 * routes in its own Node server (docs/tracking.md).
 */
export { signAutoLoginToken, verifyAutoLoginToken, AUTO_LOGIN_TTL_DAYS } from './links/auto-login.js';
export type { AutoLogin, AutoLoginResult } from './links/auto-login.js';
export { createTrackingHandler } from './http/server.js';
export { serverDeps, type ServerDeps } from './http/deps.js';
export { openDb, type Db } from './db/db.js';
export { createLog } from './log.js';
