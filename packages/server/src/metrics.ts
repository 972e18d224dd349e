import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PowerCapState } from './power-cap.js';

/** Live values the gauges read at scrape time. */
export interface MetricsSources {
  queueDepth: () => number;
  inFlight: () => number;
  sessionCacheEntries: () => number;
  sessionCacheBytes: () => number;
  connections: () => number;
  /** The GPU power caps applied now (absent, or undefined, when none is managed). */
  powerCap?: () => PowerCapState | undefined;
}

export interface ServerMetrics {
  /** One registry per server, so several servers in one process (tests) keep separate series. */
  registry: Registry;
  requests: Counter<'model' | 'plan'>;
  requestDuration: Histogram<'model' | 'plan'>;
  tailDuration: Histogram<'model' | 'plan'>;
  queueWait: Histogram<'model' | 'plan'>;
  batchSize: Histogram<'model' | 'plan'>;
  bytesReceived: Counter;
  bytesSent: Counter;
  errors: Counter<'code'>;
  /** Energy of answered requests by side ('server': its tails, tail time x serverPowerW x PUE). */
  energyJoules: Counter<'side'>;
  /** Carbon of that energy at the server's grid intensity, by side. */
  carbonGrams: Counter<'side'>;
}

// Split-inference tails on CPU range from sub-millisecond to seconds.
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(sources: MetricsSources): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('carboncp_queue_depth', 'Infer requests waiting for the tail executor.', sources.queueDepth);
  gauge('carboncp_in_flight_requests', 'Infer requests whose tail is running.', sources.inFlight);
  gauge('carboncp_session_cache_entries', 'Tail sessions held in the LRU session cache.', sources.sessionCacheEntries);
  gauge('carboncp_session_cache_bytes', 'Estimated bytes of the cached tail sessions (tail model sizes).', sources.sessionCacheBytes);
  gauge('carboncp_connections', 'Open WebSocket connections.', sources.connections);
  const powerCap = sources.powerCap;
  if (powerCap) {
    // Per GPU; no series while no cap is managed (it could not be set, or the server stopped).
    const perGpu = (name: string, help: string, read: (gpu: PowerCapState['gpus'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['gpu'],
        registers,
        collect() {
          this.reset();
          for (const gpu of powerCap()?.gpus ?? []) this.set({ gpu: String(gpu.index) }, read(gpu));
        },
      });
    perGpu('carboncp_gpu_power_cap_watts', 'GPU power limit applied by the server (nvidia-smi -pl), per GPU.', (gpu) => gpu.watts);
    perGpu('carboncp_gpu_power_default_limit_watts', "The GPU's default power limit, per GPU (the cap's ceiling).", (gpu) => gpu.defaultW);
  }
  return {
    registry,
    requests: new Counter({
      name: 'carboncp_requests_total',
      help: 'Infer requests answered with outputs, per model and plan.',
      labelNames: ['model', 'plan'],
      registers,
    }),
    requestDuration: new Histogram({
      name: 'carboncp_request_duration_seconds',
      help: 'Time from receiving an infer request to sending its response, per model and plan.',
      labelNames: ['model', 'plan'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    tailDuration: new Histogram({
      name: 'carboncp_tail_duration_seconds',
      help: 'Time onnxruntime spent running the tail for one batch, per model and plan.',
      labelNames: ['model', 'plan'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    queueWait: new Histogram({
      name: 'carboncp_queue_wait_seconds',
      help: 'Time an infer request waited in the queue before its tail ran, per model and plan.',
      labelNames: ['model', 'plan'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    batchSize: new Histogram({
      name: 'carboncp_batch_size',
      help: 'Requests run together in one tail call, per model and plan.',
      labelNames: ['model', 'plan'],
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    bytesReceived: new Counter({
      name: 'carboncp_received_bytes_total',
      help: 'Bytes of WebSocket messages received.',
      registers,
    }),
    bytesSent: new Counter({
      name: 'carboncp_sent_bytes_total',
      help: 'Bytes of WebSocket messages sent.',
      registers,
    }),
    errors: new Counter({
      name: 'carboncp_errors_total',
      help: 'Errors answered to clients (error frames and refused connections), by error code.',
      labelNames: ['code'],
      registers,
    }),
    energyJoules: new Counter({
      name: 'carboncp_energy_joules_total',
      help: 'Energy of answered infer requests in joules, by side (server: tail time / batch size x server power x PUE, estimated). Only with server-power-w.',
      labelNames: ['side'],
      registers,
    }),
    carbonGrams: new Counter({
      name: 'carboncp_carbon_grams_total',
      help: 'Carbon of that energy in grams CO2e at the server grid intensity (fixed or sampled from its provider), by side.',
      labelNames: ['side'],
      registers,
    }),
  };
}
