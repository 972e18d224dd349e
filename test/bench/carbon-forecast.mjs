// Forecast error of each trace-forecasting method of @carboncp/carbon, per zone, at 1, 6 and 24
// hours ahead, over the whole 2022 Electricity Maps data (../shared/data/carbon). Every forecast
// is made from the values up to its "now" only (online forecasters, fed one value at a time).
//
//   npm run setup && node test/bench/carbon-forecast.mjs [--data FILE] [--value COLUMN] [--warmup-days 14] [--out FILE]
//
// Writes a markdown table (default test/bench/results/carbon-forecast.md) and prints it.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// The built package's modules (dist); these names are exported from '@carboncp/carbon' once wired.
import { createForecaster, FORECAST_METHODS, DEFAULT_FORECAST_METHOD } from '../../packages/carbon/dist/forecast.js';
import { parseTraceCsv } from '../../packages/carbon/dist/providers/trace-csv.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: join(root, '..', 'shared', 'data', 'carbon', 'electricitymaps_2022_hourly.csv') },
    value: { type: 'string', default: 'ci_direct_gco2eq_per_kwh' },
    'warmup-days': { type: 'string', default: '14' },
    out: { type: 'string', default: join(here, 'results', 'carbon-forecast.md') },
  },
});
const HORIZONS_HOURS = [1, 6, 24];
// Percentage errors of actuals this small say nothing (CA-QC's direct intensity is often 0-1 g).
const MAPE_FLOOR = 10;

const started = performance.now();
const load0 = loadavg()[0];
const trace = parseTraceCsv(readFileSync(args.data, 'utf8'), { valueColumn: args.value });

/** Runs one method over one series; returns per horizon { mae, mape, wape, n, mapeN }. */
function evaluate(series, method, options = {}) {
  const perHour = 60 / series.stepMinutes;
  const horizons = HORIZONS_HOURS.map((h) => h * perHour);
  const warmup = Number(args['warmup-days']) * 24 * perHour;
  const y = series.values;
  const f = createForecaster(method, series.stepMinutes, options);
  const acc = horizons.map(() => ({ abs: 0, pct: 0, sumActual: 0, n: 0, mapeN: 0 }));
  for (let t = 0; t < y.length; t++) {
    f.update(y[t]); // now = t: y[0..t] seen
    if (t + 1 < warmup) continue;
    horizons.forEach((h, k) => {
      const target = t + h;
      // The same targets for every method: those whose every horizon lies inside the year.
      if (t + horizons[horizons.length - 1] >= y.length || Number.isNaN(y[target])) return;
      const e = Math.abs(f.predict(h) - y[target]);
      const a = acc[k];
      a.abs += e;
      a.sumActual += Math.abs(y[target]);
      a.n++;
      if (y[target] >= MAPE_FLOOR) {
        a.pct += e / y[target];
        a.mapeN++;
      }
    });
  }
  return acc.map((a) => ({ mae: a.abs / a.n, wape: a.abs / a.sumActual, mape: a.mapeN ? a.pct / a.mapeN : Number.NaN, n: a.n, mapeN: a.mapeN }));
}

const pct = (x) => (Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const lines = [];
const results = {};
for (const [zone, series] of trace.series) {
  results[zone] = {};
  for (const method of FORECAST_METHODS) results[zone][method] = evaluate(series, method);
}
const zones = [...trace.series.keys()];

lines.push('# Carbon-intensity forecast error on the 2022 traces', '');
lines.push(
  `Data: \`${args.data.replace(root + '/', '').replace(/^.*shared\//, '../shared/')}\`, column \`${args.value}\` (Electricity Maps, hourly, average direct intensity, 2022 UTC). ` +
    `Each forecaster is fed one hour at a time and forecasts 1, 6 and 24 hours after the last hour it has seen; scored from day ${args['warmup-days']} on, ` +
    'on the same targets for every method (those whose 24-hour target is still in 2022). No parameter was fitted on the scored data except online, from the past.',
  '',
  `MAPE counts actuals >= ${MAPE_FLOOR} g/kWh only (n/a where none; the share kept is in the last table); WAPE = sum |error| / sum actual over all targets; MAE in gCO2eq/kWh.`,
  '',
  `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; 1-minute load average ${load0.toFixed(2)} at start. Run: ${new Date().toISOString()}.`,
  '',
);
lines.push('| zone | method | MAPE 1 h | MAPE 6 h | MAPE 24 h | WAPE 1 h | WAPE 6 h | WAPE 24 h | MAE 1 h | MAE 6 h | MAE 24 h |');
lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const zone of zones) {
  for (const method of FORECAST_METHODS) {
    const r = results[zone][method];
    const best = (k, key) => FORECAST_METHODS.every((m) => results[zone][m][k][key] >= r[k][key] || Number.isNaN(results[zone][m][k][key]));
    const cell = (k, key, fmt) => (best(k, key) ? `**${fmt(r[k][key])}**` : fmt(r[k][key]));
    lines.push(
      `| ${zone} | ${method}${method === DEFAULT_FORECAST_METHOD ? ' (default)' : ''} | ` +
        [0, 1, 2].map((k) => cell(k, 'mape', pct)).join(' | ') +
        ' | ' +
        [0, 1, 2].map((k) => cell(k, 'wape', pct)).join(' | ') +
        ' | ' +
        [0, 1, 2].map((k) => cell(k, 'mae', (x) => x.toFixed(1))).join(' | ') +
        ' |',
    );
  }
}
lines.push('', 'Bold: the best method of the zone at that horizon.', '');

// Sensitivity of the default method to its one set parameter (profile weight alpha; the default 0.25 was set before any run).
lines.push('### seasonal-ewma: MAPE at 24 h by profile weight alpha', '');
const alphas = [0.1, 0.25, 0.5];
lines.push(`| zone | ${alphas.map((a) => `alpha ${a}`).join(' | ')} |`, `| --- | ${alphas.map(() => '---:').join(' | ')} |`);
for (const zone of zones) {
  lines.push(`| ${zone} | ${alphas.map((alpha) => pct(evaluate(trace.series.get(zone), 'seasonal-ewma', { alpha })[2].mape)).join(' | ')} |`);
}
lines.push('');
lines.push('### Targets scored', '', '| zone | targets per horizon | of them >= 10 g/kWh (MAPE) |', '| --- | ---: | ---: |');
for (const zone of zones) {
  const r = results[zone][DEFAULT_FORECAST_METHOD][2];
  lines.push(`| ${zone} | ${r.n} | ${r.mapeN} |`);
}
lines.push('', `Took ${((performance.now() - started) / 1000).toFixed(1)} s.`);

const text = lines.join('\n') + '\n';
process.stdout.write(text);
const previous = (() => {
  try {
    return readFileSync(args.out, 'utf8');
  } catch {
    return '';
  }
})();
// Keep the hand-written discussion below the generated part.
const marker = '<!-- discussion: kept across runs -->';
const discussion = previous.includes(marker) ? previous.slice(previous.indexOf(marker)) : `${marker}\n`;
writeFileSync(args.out, `${text}\n${discussion}`);
