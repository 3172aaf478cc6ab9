/** What the page knows: the fleet, the server's hello, the connection, and the user's search and choices. */
import type { FleetState } from '../src/cli/dashboard/fleet.js';
import type { Hello, ScheduleEntry, StoreState } from '../src/cli/dashboard/protocol.js';

export interface Page {
  fleet: FleetState;
  hello?: Hello;
  history: ScheduleEntry[];
  connected: boolean;
  ready: boolean;
  store: StoreState;
  query: string;
  /** Workers whose task list is open. */
  expanded: Set<string>;
  post: (action: Record<string, string>) => Promise<void>;
}
