import { OptionError } from '../../errors.js';
import {
  DEFAULT_INTERVAL,
  DEFAULT_REBALANCE_WAIT,
  DEFAULT_TIMEOUT,
  type Generator,
  msOption,
  type NodeOptions,
  parseNodeOptions,
  type ResolvedNodeOptions,
} from '../options.js';

export interface MasterOptions extends NodeOptions {
  /** Returns the desired tasks; called by the leader on every schedule. */
  generator: Generator;
  /** Schedule at least this often while leading. @default 60_000 (ms) */
  interval?: number;
  /** The generator is given this long per schedule (then its signal aborts and the schedule is skipped). @default 30_000 (ms) */
  timeout?: number;
  /** After a worker joins or leaves, wait this long so a burst of changes costs one schedule. @default 2_000 (ms) */
  rebalanceWait?: number;
  /**
   * The fleet's handoff, as the workers' option of the same name. `'none'` (fleets mixed with the Go
   * original): a task whose value changed while it stays on its worker is written as a delete, then a put
   * in a later txn — a Go worker takes a put on a key it holds for a second `add`, never a change.
   * `'claim'`: the value is rewritten in place (a TypeScript worker restarts the run with the new value).
   * @default 'claim'
   */
  handoff?: 'claim' | 'none';
  /**
   * At most this many tasks move between live workers per schedule; when a plan needs more, the moves
   * that reduce imbalance most are made and the master schedules again after `rebalanceWait` until the
   * plan is reached. Orphans (new tasks, dead workers' tasks) never wait. A positive whole number.
   * @default Infinity (unlimited)
   */
  maxMoves?: number;
  /**
   * The most assignment ops (puts, deletes) in one txn; each carries a guard, and the fence is one more
   * compare, so a txn holds `maxTxnOps + 1` compares. Lower it only for an etcd run with a lower
   * `--max-txn-ops` (set it to that value − 1). A whole number from 1 to 127.
   * @default 127
   */
  maxTxnOps?: number;
}

/** The most ops of a guarded txn: etcd's default `--max-txn-ops` (128) less the fence compare. */
export const MAX_GUARDED_OPS = 127;

export interface ResolvedMasterOptions extends ResolvedNodeOptions {
  generator: Generator;
  interval: number;
  timeout: number;
  rebalanceWait: number;
  handoff: 'claim' | 'none';
  maxMoves: number;
  maxTxnOps: number;
}

/** Checks every option and fills in the defaults; the error names the bad option. */
export function parseMasterOptions(options: MasterOptions): ResolvedMasterOptions {
  const node = parseNodeOptions(options);
  if (typeof options.generator !== 'function') {
    throw new OptionError('Expected `generator` to be a function returning the desired tasks');
  }
  const handoff = options.handoff ?? 'claim';
  if (handoff !== 'claim' && handoff !== 'none') {
    throw new OptionError(`Expected \`handoff\` to be 'claim' or 'none', got \`${String(handoff)}\``);
  }
  const maxMoves = options.maxMoves ?? Number.POSITIVE_INFINITY;
  if (maxMoves !== Number.POSITIVE_INFINITY && !(Number.isSafeInteger(maxMoves) && maxMoves >= 1)) {
    throw new OptionError(
      `Expected \`maxMoves\` to be a whole number ≥ 1 (or Infinity), got \`${String(options.maxMoves)}\``,
    );
  }
  const maxTxnOps = options.maxTxnOps ?? MAX_GUARDED_OPS;
  if (!(Number.isSafeInteger(maxTxnOps) && maxTxnOps >= 1 && maxTxnOps <= MAX_GUARDED_OPS)) {
    throw new OptionError(
      `Expected \`maxTxnOps\` to be a whole number from 1 to ${MAX_GUARDED_OPS}, got \`${String(options.maxTxnOps)}\``,
    );
  }
  return {
    ...node,
    handoff,
    maxMoves,
    maxTxnOps,
    generator: options.generator,
    interval: msOption('interval', options.interval ?? DEFAULT_INTERVAL, 10),
    timeout: msOption('timeout', options.timeout ?? DEFAULT_TIMEOUT, 1),
    rebalanceWait: msOption('rebalanceWait', options.rebalanceWait ?? DEFAULT_REBALANCE_WAIT, 0),
  };
}
