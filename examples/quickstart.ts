// The README's snippet: a master and three workers sharing six tasks, in one process, on the memory store.
// Run it: npx tsx examples/quickstart.ts   (swap MemoryStore for new EtcdStore({ hosts: '127.0.0.1:2379' })
// and run one copy per process to go distributed).
import { Master, MemoryStore, type Task, Worker } from '../src/index.js';

const store = new MemoryStore(); // one process only; EtcdStore for a real fleet
const tasks: Task[] = ['btcusdt', 'ethusdt', 'solusdt', 'xrpusdt', 'adausdt', 'dogeusdt'].map((id) => ({
  id,
  group: 'spot',
}));
const common = { store, rootName: 'quickstart', maxNumNodes: 4, barrierTimeout: 5_000 };

const master = new Master({ ...common, name: 'master', generator: () => tasks, rebalanceWait: 500 });
const workers = ['w1', 'w2', 'w3'].map(
  (name) =>
    new Worker({
      ...common,
      name,
      // Runs until the task is revoked or the worker stops.
      run: async (task, { signal }) => {
        console.log(`${name} runs ${task.id}`);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        console.log(`${name} stops ${task.id}`);
      },
    }),
);

master.on('schedule', (r) => console.log(`schedule (${r.reason}): ${r.tasks} tasks on ${r.workers} workers`));
await Promise.all(workers.map((w) => w.start()));
master.start();

await new Promise((r) => setTimeout(r, 1_500));
await workers[0].stop(); // drain: its tasks move to w2 and w3 at once
await new Promise((r) => setTimeout(r, 1_500));
await Promise.all([...workers.slice(1).map((w) => w.stop()), master.stop()]);
await store.close();
