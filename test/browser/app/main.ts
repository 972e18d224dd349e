// The example page: loads a zoo model and its plans from this origin, connects to a local
// `carboncp serve`, runs split inference at each cut and shows outputs, provider and timings.
// Query parameters: model, plans, name (the server's model name), server, cuts (comma list),
// providers (comma list, default webgpu,wasm), shape (comma list, the input's dims).
import { mulberry32 } from '@carboncp/core';
import { runFamily } from './family-runner.js';
import { runCuts, type CutResult, type RunConfig } from './split-runner.js';

declare global {
  interface Window {
    carboncpSplit: typeof runCuts;
    carboncpFamily: typeof runFamily;
  }
}
window.carboncpSplit = runCuts;
window.carboncpFamily = runFamily;

const params = new URLSearchParams(location.search);
const status = document.querySelector<HTMLElement>('#status')!;
const rows = document.querySelector<HTMLTableSectionElement>('#results tbody')!;

function seededInput(dims: number[], seed: number): { data: number[]; dims: number[] } {
  const next = mulberry32(seed);
  return { data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1), dims };
}

function show(result: CutResult): void {
  const t = result.telemetry;
  const first = Object.values(result.outputs)[0];
  const top = first.data.reduce((best, v, i) => (v > first.data[best] ? i : best), 0);
  const row = rows.insertRow();
  row.className = `path-${t.path}`;
  for (const text of [
    result.cut,
    t.path,
    t.executionProvider ?? '-',
    `${t.waitMs.toFixed(1)}`,
    `${t.headMs.toFixed(1)}`,
    `${(t.transferMs + t.serverMs).toFixed(1)}`,
    `${t.totalMs.toFixed(1)}`,
    `${t.bytesUp}`,
    `argmax ${top} (${first.data[top].toFixed(4)})`,
  ]) row.insertCell().textContent = text;
}

async function main(): Promise<void> {
  const model = params.get('model');
  if (!model) {
    status.textContent = 'Give ?model=...&plans=...&name=...&server=ws://127.0.0.1:8765&cuts=server,split-5,device&shape=1,3,48,192';
    return;
  }
  const dims = (params.get('shape') ?? '1,3,48,192').split(',').map(Number);
  const config: RunConfig = {
    model,
    plans: params.get('plans') ?? model.replace(/\.onnx$/, '.plans.json'),
    modelName: params.get('name') ?? 'model',
    server: params.get('server') ?? 'ws://127.0.0.1:8765',
    cuts: (params.get('cuts') ?? 'server,device').split(','),
    inputs: { [params.get('input') ?? 'x']: seededInput(dims, 1) },
    askContext: true,
    ...(params.get('providers') ? { providers: params.get('providers')!.split(',') as RunConfig['providers'] } : {}),
  };
  status.textContent = `running ${config.cuts.length} cuts of ${config.modelName}...`;
  const report = await runCuts(config, show);
  const carbon = report.context.carbon ? `${report.context.carbon.valueGPerKwh} g/kWh (${report.context.carbon.source})` : 'unknown';
  const battery = 'unavailable' in report.context.battery ? report.context.battery.unavailable : `${report.context.battery.batteryPercent?.toFixed(0)}%`;
  status.textContent = `done: ${report.results.length} cuts, server ${report.connected ? 'connected' : 'unreachable'}, server grid ${carbon}, battery ${battery}`;
  status.dataset.done = 'true';
}

main().catch((error: Error) => {
  status.textContent = `failed: ${error.message}`;
  status.dataset.done = 'error';
});
