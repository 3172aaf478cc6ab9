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
}

export interface ResolvedMasterOptions extends ResolvedNodeOptions {
  generator: Generator;
  interval: number;
  timeout: number;
  rebalanceWait: number;
}

/** Checks every option and fills in the defaults; the error names the bad option. */
export function parseMasterOptions(options: MasterOptions): ResolvedMasterOptions {
  const node = parseNodeOptions(options);
  if (typeof options.generator !== 'function') {
    throw new OptionError('Expected `generator` to be a function returning the desired tasks');
  }
  return {
    ...node,
    generator: options.generator,
    interval: msOption('interval', options.interval ?? DEFAULT_INTERVAL, 10),
    timeout: msOption('timeout', options.timeout ?? DEFAULT_TIMEOUT, 1),
    rebalanceWait: msOption('rebalanceWait', options.rebalanceWait ?? DEFAULT_REBALANCE_WAIT, 0),
  };
}
