/**
 * The addresses already seen in a CSV, as 64-bit hashes in typed arrays:
 * 12 bytes per address instead of a string and a Map entry, so a list of a
 * million contacts is checked for duplicates in a few tens of megabytes.
 * Two different addresses share a hash with odds of about n²/2⁶⁵ (3·10⁻⁸
 * for a million), and the result would only be a spurious warning.
 */
export class SeenAddresses {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  /** The line an address was first seen on; 0 marks an empty slot (CSV lines start at 1). */
  private line = new Uint32Array(1024);
  private size = 0;

  /** The line `key` was first seen on, or undefined after recording it at `line`. */
  firstLine(key: string, line: number): number | undefined {
    const [h, l] = hash(key);
    const mask = this.line.length - 1;
    for (let i = l & mask; ; i = (i + 1) & mask) {
      if (this.line[i] === 0) {
        this.hi[i] = h;
        this.lo[i] = l;
        this.line[i] = line;
        if (++this.size * 2 > this.line.length) this.grow();
        return undefined;
      }
      if (this.hi[i] === h && this.lo[i] === l) return this.line[i];
    }
  }

  private grow(): void {
    const { hi, lo, line } = this;
    const capacity = line.length * 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.line = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < line.length; j++) {
      if (line[j] === 0) continue;
      let i = lo[j]! & mask;
      while (this.line[i] !== 0) i = (i + 1) & mask;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.line[i] = line[j]!;
    }
  }
}

/** Two independent 32-bit hashes of the UTF-16 code units: FNV-1a and a murmur3-style mix. */
function hash(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  return [a >>> 0, b >>> 0];
}
