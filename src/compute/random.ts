/** Seeded randomness for training and sampling (xorshift128+ floats, Box-Muller normals, Fisher-Yates shuffles). */
export class Random {
  private s0: bigint;
  private s1: bigint;
  private spare: number | undefined;

  constructor(seed: number) {
    this.s0 = BigInt(seed >>> 0) * 0x9e3779b97f4a7c15n + 1n;
    this.s1 = (this.s0 ^ 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    for (let i = 0; i < 8; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const mask = 0xffffffffffffffffn;
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x = (x ^ (x << 23n)) & mask;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((this.s1 + y) & mask) >> 11n) / 2 ** 53;
  }

  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  shuffle<T>(items: T[]): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
  }
}
