// A run handler that writes to a fenced resource (./ledger.mjs) and sends its fencing token with every
// write: `escheduler run ... --handler examples/fenced-ledger/handler.mjs` with LEDGER_URL set.
//
// Every $LEDGER_EVERY_MS (default 100) it writes the task's next value. A refusal (409) means an owner
// newer than this run has written: this process lost the task without knowing it yet (it was paused, or
// cut off). It then writes no more and waits for its signal, which the worker aborts as soon as it sees
// the loss — it must not restart the write with the same token, nor throw (a restart keeps the token).
const url = process.env.LEDGER_URL ?? 'http://127.0.0.1:8099';
const every = Number(process.env.LEDGER_EVERY_MS ?? 100);

export default async function run(task, { signal, worker, token }) {
  let value = 0;
  while (!signal.aborted) {
    // The write itself is not aborted by the signal: once sent, the ledger decides — by token. A write
    // that failed on the network is retried once: with a token, a retry can never overwrite a newer owner.
    const body = JSON.stringify({ task: task.id, token, worker, value: value++ });
    const send = () =>
      fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const res = await send()
      .catch(() => send())
      .catch((err) => ({ ok: false, status: 0, err }));
    if (res.status === 409) {
      console.error(JSON.stringify({ msg: 'fenced out: a newer owner wrote', task: task.id, token }));
      break;
    }
    await res.body?.cancel();
    await sleep(every, signal);
  }
  if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
