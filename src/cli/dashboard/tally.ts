/**
 * Running counts of the fleet's assignments and claims, per worker and per group, kept up to date put by
 * put, so that a view of 10,000 tasks on 100 workers costs a pass over the workers, not over the tasks.
 * Pure (bundled into the page).
 */

export interface GroupCount {
  assigned: number;
  claimed: number;
}

export interface Tally {
  assigned: number;
  claimed: number;
  /** Sum of the assigned tasks' weights. */
  load: number;
  groups: Map<string, GroupCount>;
}

export class Tallies {
  private readonly byWorker = new Map<string, Tally>();
  private readonly perGroup = new Map<string, number>();

  clear(): void {
    this.byWorker.clear();
    this.perGroup.clear();
  }

  private tally(worker: string): Tally {
    let t = this.byWorker.get(worker);
    if (!t) {
      t = { assigned: 0, claimed: 0, load: 0, groups: new Map() };
      this.byWorker.set(worker, t);
    }
    return t;
  }

  private group(t: Tally, group: string): GroupCount {
    let g = t.groups.get(group);
    if (!g) {
      g = { assigned: 0, claimed: 0 };
      t.groups.set(group, g);
    }
    return g;
  }

  private tidy(worker: string, t: Tally, group: string): void {
    const g = t.groups.get(group);
    if (g && g.assigned === 0 && g.claimed === 0) t.groups.delete(group);
    if (t.assigned === 0 && t.claimed === 0) this.byWorker.delete(worker);
  }

  /** An assignment of `group` with `weight` on `worker` appears (+1) or goes (-1). */
  assign(worker: string, group: string, weight: number, sign: 1 | -1): void {
    const t = this.tally(worker);
    t.assigned += sign;
    t.load += sign * weight;
    this.group(t, group).assigned += sign;
    this.tidy(worker, t, group);
    const n = (this.perGroup.get(group) ?? 0) + sign;
    if (n > 0) this.perGroup.set(group, n);
    else this.perGroup.delete(group);
  }

  /** A claim held by `worker` on a task of `group` appears (+1) or goes (-1). */
  claim(worker: string, group: string, sign: 1 | -1): void {
    const t = this.tally(worker);
    t.claimed += sign;
    this.group(t, group).claimed += sign;
    this.tidy(worker, t, group);
  }

  get(worker: string): Tally | undefined {
    return this.byWorker.get(worker);
  }

  entries(): IterableIterator<[string, Tally]> {
    return this.byWorker.entries();
  }

  /** Every group with an assignment, sorted. */
  groups(): string[] {
    return [...this.perGroup.keys()].sort();
  }
}
