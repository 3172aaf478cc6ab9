import { mix } from './hash.js';

const EMPTY = -1;
const TOMB = -2;

/**
 * A set of (group, worker) pairs of small non-negative integers: open addressing over typed arrays, so
 * 10^5 pairs cost a few milliseconds and no boxed numbers (a `Set<number>` is several times slower).
 */
export class PairSet {
  private gs: Int32Array;
  private ws: Int32Array;
  private mask: number;
  private used = 0;
  size = 0;

  constructor(expected = 16) {
    let cap = 16;
    while (cap < expected * 2 + 16) cap *= 2;
    this.gs = new Int32Array(cap).fill(EMPTY);
    this.ws = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private find(g: number, w: number): number {
    const { gs, ws, mask } = this;
    let i = mix(g, w) & mask;
    while (gs[i] !== EMPTY) {
      if (gs[i] === g && ws[i] === w) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  has(g: number, w: number): boolean {
    return this.find(g, w) >= 0;
  }

  add(g: number, w: number): void {
    if (this.find(g, w) >= 0) return;
    if ((this.used + 1) * 2 > this.gs.length)
      this.rehash(this.gs.length * (this.size * 4 > this.gs.length ? 2 : 1));
    const { gs, ws, mask } = this;
    let i = mix(g, w) & mask;
    while (gs[i] >= 0) i = (i + 1) & mask;
    if (gs[i] === EMPTY) this.used++;
    gs[i] = g;
    ws[i] = w;
    this.size++;
  }

  delete(g: number, w: number): void {
    const i = this.find(g, w);
    if (i < 0) return;
    this.gs[i] = TOMB;
    this.size--;
  }

  forEach(fn: (g: number, w: number) => void): void {
    const { gs, ws } = this;
    for (let i = 0; i < gs.length; i++) if (gs[i] >= 0) fn(gs[i], ws[i]);
  }

  private rehash(cap: number): void {
    const { gs, ws } = this;
    this.gs = new Int32Array(cap).fill(EMPTY);
    this.ws = new Int32Array(cap);
    this.mask = cap - 1;
    this.used = 0;
    this.size = 0;
    for (let i = 0; i < gs.length; i++) if (gs[i] >= 0) this.add(gs[i], ws[i]);
  }
}
