// A run handler module for `escheduler run --handler examples/handler.mjs`.
// The worker calls the default export once per task assigned to it (highest priority first). It must keep
// running until `signal` aborts — the task was moved, the process drains (SIGTERM), or the lease was lost —
// then clean up and return. Throwing or returning early while the task is still assigned restarts it with
// backoff (escheduler_worker_task_restarts_total).
export default async function run(task, { signal, worker, attempt }) {
  const payload = task.raw ? JSON.parse(Buffer.from(task.raw).toString('utf8')) : {};
  console.error(JSON.stringify({ msg: 'feed start', task: task.id, worker, attempt, ...payload }));
  let messages = 0;
  // Stand-in for a websocket subscription: one "message" a second until aborted.
  await new Promise((resolve) => {
    const timer = setInterval(() => messages++, 1_000);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        resolve();
      },
      { once: true },
    );
  });
  console.error(
    JSON.stringify({
      msg: 'feed stop',
      task: task.id,
      worker,
      messages,
      why: String(signal.reason?.message ?? signal.reason),
    }),
  );
}
