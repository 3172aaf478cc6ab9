/**
 * The control handler of `escheduler dashboard --allow-control`: each request of the page runs the same
 * `Admin` call as the CLI's control command (`escheduler cordon`, `drain`, `pin`, ...), recorded as
 * `by: dashboard@<host>`. A refusal (a worker not online, an unknown task, a pin to a cordoned worker)
 * becomes the page's error message.
 */
import { hostname } from 'node:os';
import { Admin } from '../../scheduler/control/admin.js';
import type { Store } from '../../store/port.js';
import type { ControlAction, ControlHandler } from './control.js';

export function adminControl(store: Store, root: string): ControlHandler {
  const admin = new Admin({ store, rootName: root, by: `dashboard@${hostname()}` });
  return async (a: ControlAction) => {
    const options = { reason: 'reason' in a ? a.reason : undefined };
    switch (a.action) {
      case 'cordon':
        await admin.cordon(a.worker, options);
        return;
      case 'drain':
        await admin.drain(a.worker, options);
        return;
      case 'uncordon':
        await admin.uncordon(a.worker);
        return;
      case 'pin':
        await admin.pin(a.task, a.worker, options);
        return;
      case 'unpin':
        await admin.unpin(a.task);
        return;
      case 'pause':
        await admin.pause(options);
        return;
      case 'resume':
        await admin.resume();
        return;
    }
  };
}
