/** The operators' subcommands on the program: cordon, uncordon, drain, pin, unpin, pause, resume, plan. */
import type { Command, Option } from 'commander';
import { addConnectionFlags } from './common.js';
import { type ControlAction, type ControlFlags, controlCommand } from './control.js';

export interface CommandHelpers {
  durationOption: (flag: string, description: string, defaultMs: number) => Option;
  int: (flag: string, min: number) => (v: string) => number;
  finish: (code: number) => void;
}

export function addControlCommands(program: Command, h: CommandHelpers): void {
  const add = (
    name: string,
    description: string,
    toAction: (args: string[]) => ControlAction,
    extra: (cmd: Command) => Command = (c) => c,
  ) => {
    const cmd = extra(program.command(name).description(description))
      .option('--root <name>', 'root folder of every key (required)')
      .action(async (...args: unknown[]) => {
        // commander passes the positional arguments, then the flags, then the command
        const positional = args.slice(0, -2) as string[];
        const flags = args.at(-2) as ControlFlags;
        h.finish(await controlCommand(toAction(positional), flags));
      });
    addConnectionFlags(cmd, h.durationOption);
  };
  const why = (c: Command) => c.option('--reason <text>', 'why, shown by status');
  const force = (c: Command) =>
    c.option('--force', 'record it even for a worker that is not online (about to join)');

  add(
    'cordon <worker>',
    'take a worker out of rotation: nothing new is placed on it, what it runs stays',
    ([worker]) => ({ kind: 'cordon', worker }),
    (c) => force(why(c)),
  );
  add('uncordon <worker>', 'return a cordoned or draining worker to the pool', ([worker]) => ({
    kind: 'uncordon',
    worker,
  }));
  add(
    'drain <worker>',
    'cordon a worker and move every task it holds to the others (the process stays up)',
    ([worker]) => ({ kind: 'drain', worker }),
    (c) =>
      force(why(c))
        .option('--wait', 'return once the worker holds no task and no claim, printing progress')
        .addOption(
          h.durationOption('--wait-timeout', 'with --wait: give up (exit 1) after this long', 600_000),
        )
        .addOption(h.durationOption('--every', 'with --wait: poll this often', 500)),
  );
  add(
    'pin <task> <worker>',
    'run a task on a worker whenever that worker is online and not cordoned (a keyed task takes its key bundle)',
    ([task, worker]) => ({ kind: 'pin', task, worker }),
    (c) =>
      why(c).option(
        '--force',
        'record it even for a worker that is not online or a task no generator produced',
      ),
  );
  add('unpin <task>', 'remove the pin of a task', ([task]) => ({ kind: 'unpin', task }));
  add(
    'pause',
    'maintenance mode: no task moves between live workers (new and orphaned tasks are still placed)',
    () => ({ kind: 'pause' }),
    why,
  );
  add('resume', 'end the pause: the next schedule rebalances', () => ({ kind: 'resume' }));
  add(
    'plan',
    "dry run of the next schedule (the leader's control state and move budget), writing nothing",
    () => ({ kind: 'plan' }),
    (c) =>
      c
        .option(
          '--generator <file>',
          'plan these desired tasks (ES module or .json, as run) instead of the assigned ones',
        )
        .option('--max-moves <n>', "move budget (default: the leading master's)", h.int('--max-moves', 1))
        .option('--json', 'print the plan as one JSON object'),
  );
}
