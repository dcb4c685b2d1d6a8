import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
// @ts-expect-error — a plain .mjs script without types
import { appendErrorsInPlace } from '../../scripts/gen.mjs';

/** A condition-like schema: it refers to itself, as herald's conditions do through all / any / not. */
const RECURSIVE = {
  $id: 'condition',
  type: 'object',
  properties: { site: { type: 'string' }, all: { type: 'array', items: { $ref: 'condition' } } },
  additionalProperties: false,
};

describe('appendErrorsInPlace', () => {
  it("rewrites every copy of ajv's error list, and the errors stay the same", () => {
    let raw = '';
    let seen = '';
    const patched = new Ajv({ allErrors: true, code: { process: (code) => (seen = (appendErrorsInPlace as (c: string) => string)((raw = code))) } }).compile(RECURSIVE);
    const plain = new Ajv({ allErrors: true }).compile(RECURSIVE);
    // Should a new ajv write its code differently, this fails instead of validation quietly turning quadratic again.
    expect(raw).toMatch(/vErrors\.concat\([\w$.]+\)/);
    expect(seen).not.toContain('.concat(');

    const data = { all: [{ site: 1 }, { x: 1 }, { all: [{ y: 2 }, { site: 'ok' }, { all: [{ z: 3 }] }] }, { site: 'ok' }] };
    expect(patched(data)).toBe(false);
    expect(plain(data)).toBe(false);
    expect(patched.errors).toEqual(plain.errors);
    expect(patched.errors!.map((e) => e.instancePath)).toEqual(['/all/0/site', '/all/1', '/all/2/all/0', '/all/2/all/2/all/0']);
    expect(patched({ all: [{ site: 'a' }] })).toBe(true);
  });
});
