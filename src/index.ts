/**
 * herald as a library. The shop's backend needs to check the links herald
 * puts into messages: verifyAutoLoginToken for auto-login links, and, for
 * anything else herald makes (open, click and unsubscribe links, the VERP
 * return path), a verifier each and verifyLink, which tells them apart.
 * Each takes every secret (the current one first), so rotation never breaks
 * a link already sent. It may also mount the tracking server's routes in its
 * own Node server (docs/tracking.md).
 */
export { signAutoLoginToken, verifyAutoLoginToken, AUTO_LOGIN_TTL_DAYS } from './links/auto-login.js';
export type { AutoLogin, AutoLoginResult } from './links/auto-login.js';
export { readTrackingToken, readReturnPath } from './links/tracking.js';
export type { TrackingLink, TrackingResult } from './links/tracking.js';
export { verifyToken, keyId } from './links/token.js';
export type { VerifyResult } from './links/token.js';
export { verifyLink } from './links/verify.js';
export type { LinkKind, LinkVerification, VerifiedLink } from './links/verify.js';
export { createTrackingHandler } from './http/server.js';
export { serverDeps, type ServerDeps } from './http/deps.js';
export { openDb, type Db } from './db/db.js';
export { createLog } from './log.js';
