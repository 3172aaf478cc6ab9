// A generator module for `escheduler run --generator examples/generator.mjs`.
// The leader calls the default export on every schedule (on start-up, when workers join or leave, and
// every --interval); it returns the desired tasks. Throwing (or exceeding --timeout) leaves the current
// assignment as it is, and counts in escheduler_master_generator_errors_total.
//
// Here: the trading pairs come from an environment variable, or a fixed list; a real pump would ask its
// exchange or its database (honour `signal`, aborted when the schedule times out or the master steps down).
export default async function generate({ signal }) {
  signal.throwIfAborted();
  const pairs = (process.env.PAIRS ?? 'btcusdt,ethusdt,solusdt,xrpusdt,adausdt,dogeusdt,dotusdt,linkusdt')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return pairs.flatMap((pair, i) => [
    // Spot feeds; the first two matter most: assigned and started first.
    { id: `spot-${pair}`, group: 'spot', priority: i < 2 ? 10 : 0, raw: JSON.stringify({ pair }) },
    // A pair's two futures feeds share a key: they always run on the same worker.
    { id: `perp-${pair}`, group: 'futures', key: pair, raw: JSON.stringify({ pair, kind: 'perpetual' }) },
    {
      id: `quarterly-${pair}`,
      group: 'futures',
      key: pair,
      raw: JSON.stringify({ pair, kind: 'quarterly' }),
    },
  ]);
}
