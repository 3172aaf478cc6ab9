/**
 * `escheduler/prometheus`: the metrics port on prom-client, each instance with a registry of its own.
 * The only entry point that loads prom-client.
 */
export type { PrometheusMetricsOptions } from './scheduler/prometheus.js';
export { PrometheusMetrics } from './scheduler/prometheus.js';
