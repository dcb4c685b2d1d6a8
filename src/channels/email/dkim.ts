import { createPrivateKey, type KeyObject } from 'node:crypto';
import { UserError } from '../../errors.js';
import type { Project } from '../../workspace/model.js';

/** A site's DKIM signing key, read from the environment variable herald.yaml names. */
export interface DkimKey {
  domain: string;
  selector: string;
  privateKey: string;
}

/**
 * The DKIM keys of the sites that have one, checked before the first message:
 * a missing variable or a key that is not a PEM private key stops the send
 * instead of sending unsigned mail.
 */
export function dkimKeys(project: Project, env: NodeJS.ProcessEnv = process.env): Map<string, DkimKey> {
  const keys = new Map<string, DkimKey>();
  for (const site of project.sites) {
    if (!site.dkim) continue;
    const where = `herald.yaml: sites[${site.id}].dkim`;
    const pem = env[site.dkim.private_key_env];
    if (!pem) {
      throw new UserError(`${where}: $${site.dkim.private_key_env} is not set`, `put the site's PEM private key into ${site.dkim.private_key_env}, or remove dkim: to send unsigned`);
    }
    const privateKey = pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem;
    let key: KeyObject;
    try {
      key = createPrivateKey(privateKey);
    } catch (e) {
      throw new UserError(`${where}: $${site.dkim.private_key_env} does not hold a usable private key (${(e as Error).message})`, 'set it to the PEM text, -----BEGIN PRIVATE KEY----- … included');
    }
    // nodemailer signs rsa-sha256 only: with an Ed25519 key it sends the message
    // unsigned, with an EC key it labels an ECDSA signature rsa-sha256, which
    // fails every check. Verifiers ignore RSA keys under 1024 bits (RFC 8301).
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (key.asymmetricKeyType !== 'rsa' || bits < 1024) {
      const what = key.asymmetricKeyType === 'rsa' ? `a ${bits}-bit RSA key` : `a key of type ${key.asymmetricKeyType}`;
      throw new UserError(`${where}: $${site.dkim.private_key_env} holds ${what}; DKIM needs an RSA key of 1024 bits or more`, 'generate one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`');
    }
    const domain = site.dkim.domain ?? site.sender.from.split('@')[1]!;
    keys.set(site.id, { domain, selector: site.dkim.selector, privateKey });
  }
  return keys;
}
