import type { PongReceipt } from './ping-tracker.js';
import type { ClientPlan, ServerContext, SplitModel } from './types.js';

/**
 * A pong, in the client's terms: the server's load and grid, this model's tail latencies, and
 * the rtt. Without a model (a ServerLink) tailMs keeps every entry (the frame validator has
 * checked them) under the server's own keys ('model/plan', and bare plan ids when it serves one
 * model).
 */
export function serverContextOf(model: Pick<SplitModel<ClientPlan>, 'name' | 'plans'> | undefined, { pong, rttMs, receivedAt }: PongReceipt): ServerContext {
  const tailMs = pong.tail_ms ?? {};
  const context: ServerContext = {
    queueDepth: pong.queue_depth,
    inFlight: pong.in_flight,
    tailMs: model ? tailMsOfModel(model, tailMs) : { ...tailMs },
    rttMs,
    receivedAt,
  };
  const carbon = pong.carbon_intensity;
  if (carbon) context.carbonIntensity = { valueGPerKwh: carbon.value_g_per_kwh, source: carbon.source };
  return context;
}

/**
 * The server keys tail latencies 'model/plan', and by bare plan id too when it serves a single
 * model. Bare ids are used only when no key names a model, since with keys of another model
 * they would be that model's plans.
 */
function tailMsOfModel(model: Pick<SplitModel<ClientPlan>, 'name' | 'plans'>, tailMs: Record<string, number>): Record<string, number> {
  const prefix = `${model.name}/`;
  const bareUsable = Object.keys(tailMs).every((key) => !key.includes('/'));
  const out: Record<string, number> = {};
  for (const plan of model.plans) {
    const value = tailMs[prefix + plan.id] ?? (bareUsable ? tailMs[plan.id] : undefined);
    if (typeof value === 'number' && Number.isFinite(value)) out[plan.id] = value;
  }
  return out;
}
