/**
 * herald as a library. The shop's backend needs one function: checking the
 * auto-login tokens herald puts into messages.
 */
export { signAutoLoginToken, verifyAutoLoginToken, AUTO_LOGIN_TTL_DAYS } from './links/auto-login.js';
export type { AutoLogin, AutoLoginResult } from './links/auto-login.js';
