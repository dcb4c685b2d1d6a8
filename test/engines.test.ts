import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/workspace.js';

/**
 * package.json's engines.node is a promise: herald installs and runs on every
 * Node version it names. Every locked package must accept all of them, or
 * `npm ci` warns EBADENGINE (and the package may not run there).
 */
interface Manifest {
  version?: string;
  engines?: { node?: string };
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, Manifest> };

describe('engines.node', () => {
  it('is what the lock file was made with', () => {
    expect(lock.packages['']?.engines).toEqual(pkg.engines);
  });

  it('is accepted by every locked package, so npm ci warns no EBADENGINE', () => {
    const ours = pkg.engines!.node!;
    const refusing = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.engines?.node !== undefined && !semver.subset(ours, p.engines.node))
      .map(([path, p]) => `${path.replace(/^(.*\/)?node_modules\//, '')}@${p.version}: ${p.engines!.node}`);
    expect(refusing).toEqual([]);
  });

  it('includes the Node the machines run (20.20)', () => {
    expect(semver.satisfies('20.20.2', pkg.engines!.node!)).toBe(true);
  });
});
