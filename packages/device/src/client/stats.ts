import type { ClientStats, RequestTelemetry } from './types.js';

export function emptyStats(): ClientStats {
  return { requests: 0, split: 0, remote: 0, local: 0, localFallback: 0, timeouts: 0, lateResponses: 0, connects: 0, disconnects: 0, errors: {} };
}

export function recordRequest(stats: ClientStats, telemetry: RequestTelemetry): void {
  stats.requests += 1;
  if (telemetry.path === 'split') stats.split += 1;
  else if (telemetry.path === 'remote') stats.remote += 1;
  else if (telemetry.path === 'local') stats.local += 1;
  else stats.localFallback += 1;
  if (telemetry.error) stats.errors[telemetry.error.code] = (stats.errors[telemetry.error.code] ?? 0) + 1;
}
