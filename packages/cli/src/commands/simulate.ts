import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { candidatesFromProfile } from '@carboncp/calibrator';
import { RADIO_KINDS, parseNetworkTrace, parseTraceCsv, type DeviceProfile, type RadioKind, type TraceSeries } from '@carboncp/carbon';
import { loadDeviceProfile, loadDeviceProfileFile, loadGpuPowerCapCurves } from '@carboncp/carbon/node';
import { profileFromJson, type ModelProfile, type Plan } from '@carboncp/core';
import { outputBytesPerSample, partitionWithProbe, profileModel, readModelFile } from '@carboncp/core/node';
import { ensureModel, getZooModel, listModels } from '@carboncp/models';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { BUDGET_POLICIES, POLICY_NAMES, POWER_CAP_POLICIES, VARIANT_POLICIES, type SimPowerCap, headScaleOf, isPolicyName, simulate, type PolicyName, type SimulationResult } from '@carboncp/sim';
import { EXIT, type Command, type Io } from '../command.js';
import { simulationReport } from '../report/simulation-report.js';
import { renderHtmlReport } from '../report/html-report.js';
import { parseCommon } from './partition.js';

const SHIPPED_UPLINK = fileURLToPath(new URL('../../data/mahimahi-tmobile-lte-up.csv', import.meta.url));

const usage = `Usage: carboncp simulate --model MODEL|--profile FILE --device PROFILE --carbon CSV [--zone Z]
                         [--time-col NAME] [--value-col NAME] [--server-carbon CSV] [--server-zone Z]
                         [--network CSV] [--trace NAME] [--direction up|down] [--slo-ms N] [--alpha A]
                         [--policies P,P,...] [--hours H] [--rate PER_MIN] [--seed S]
                         [--server-power-w W] [--radio KIND] [--output-bytes N] [--budget G[/H]]
                         [--power-cap auto|off|WATTS] [--power-cap-curve ID] [--json] [--report out.html]

Simulates a device serving a stream of requests over real traces (its grid's and the server's
carbon intensity, an uplink) and compares split policies on the same requests and the same true
outcomes: total carbon by device, network and server, SLO violations, device energy and battery,
regret against the oracle, interval coverage, and how often each cut was chosen.

Options:
  --model MODEL       a zoo model or an .onnx file, profiled on this machine now (10 runs)
  --profile FILE      or a latency profile (carboncp profile --json)
  --device PROFILE    the device: a profile id of devices/ (e.g. pixel-4) or a JSON file
  --carbon CSV        the device's grid intensity (Electricity Maps layout or Time,Carbon Intensity)
  --zone Z            its zone, where the file has several
  --time-col NAME, --value-col NAME
                      column names of both carbon files (default: found by name)
  --server-carbon CSV the server's grid (default the device's file); --server-zone Z its zone
  --network CSV       an uplink trace (Mahimahi or Pensieve layout; columns found by name; it loops);
                      default the shipped Mahimahi T-Mobile LTE uplink
  --trace NAME        the trace of a file with several; --direction up|down (default up)
  --slo-ms N          latency SLO (default 500)    --alpha A  miscoverage (default 0.1)
  --policies P,...    default all that apply (not ${VARIANT_POLICIES.join(', ')}: they need a model family;
                      not ${BUDGET_POLICIES.join(', ')} unless --budget; not ${POWER_CAP_POLICIES.join(', ')}
                      unless --power-cap): ${POLICY_NAMES.join(', ')}
  --hours H           simulated hours (default 24) --rate N   requests per minute (default 1)
  --seed S            default 1
  --server-power-w W  a tail's power on the server (default: the dev-machine profile's active
                      watts, the machine whose tails a --model profile measures)
  --radio KIND        the device's radio (${RADIO_KINDS.join(', ')}; default lte, else wifi, else the
                      profile's first): its energy per byte, tail and promotion
  --output-bytes N    bytes per sample a tail sends back (default: measured from --model by a shape
                      probe; 0 with --profile, said in the table)
  --budget G[/H]      a carbon budget of G grams per period of H hours (default 24) from the start:
                      adds ${BUDGET_POLICIES.join(' and ')}, and each record's budget (spentG,
                      overspendG, periodsOverspent)
  --power-cap MODE    GPU power caps on the server, modelled from published curves (no GPU runs
                      here): auto (the server's own policy: by its grid's intensity and queue, as
                      'carboncp serve --power-cap auto') or WATTS (fixed) adds ${POWER_CAP_POLICIES.join(' and ')};
                      off (default) leaves them out
  --power-cap-curve ID
                      the curve of packages/carbon/data/gpu-power-caps.json (default its first:
                      McDonald et al.'s V100 at 250 W)
  --json              one record per policy: { "policy", "carbonG", "sloViolationRate", "deviceJ",
                      "regretG", "coverage", ... }
  --report FILE       a self-contained HTML report (charts inline as SVG)

Exit codes: 0 ok, 2 bad command line, 3 bad input (no such file, a trace or profile that cannot
be read, an unknown zone or trace), 4 run-time error.`;

const STRING_OPTIONS = ['model', 'profile', 'device', 'carbon', 'zone', 'time-col', 'value-col', 'server-carbon', 'server-zone', 'network', 'trace', 'direction', 'slo-ms', 'alpha', 'policies', 'hours', 'rate', 'seed', 'server-power-w', 'radio', 'output-bytes', 'budget', 'power-cap', 'power-cap-curve', 'report'] as const;

function usageError(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `simulate: ${message}; see 'carboncp simulate --help'`);
}

function positive(text: string | undefined, flag: string, fallback: number, integer = false): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === '' || !(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw usageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  return v;
}

/** --budget G or G/H: grams per period of H hours (default 24). */
function budgetOf(text: string | undefined): { grams: number; periodHours: number } | undefined {
  if (text === undefined) return undefined;
  const [gramsText, hoursText, ...rest] = text.split('/');
  const grams = Number(gramsText);
  const periodHours = hoursText === undefined ? 24 : Number(hoursText);
  if (rest.length > 0 || gramsText!.trim() === '' || !(grams > 0 && Number.isFinite(grams)) || hoursText?.trim() === '' || !(periodHours > 0 && Number.isFinite(periodHours))) {
    throw usageError(`--budget must be GRAMS or GRAMS/HOURS (grams per period, default 24 h), got '${text}'`);
  }
  return { grams, periodHours };
}

/** --power-cap auto|off|WATTS with --power-cap-curve ID: the simulator's power cap, or undefined for off. */
async function powerCapOf(mode: string | undefined, curveId: string | undefined): Promise<SimPowerCap | undefined> {
  if (mode === undefined || mode === 'off') {
    if (curveId !== undefined) throw usageError('--power-cap-curve needs --power-cap auto or WATTS');
    return undefined;
  }
  const watts = Number(mode);
  if (mode !== 'auto' && !(mode.trim() !== '' && watts > 0 && Number.isFinite(watts))) throw usageError(`--power-cap must be auto, off or a number of watts > 0, got '${mode}'`);
  const { curves } = await loadGpuPowerCapCurves();
  const curve = curveId === undefined ? curves[0]! : curves.find((c) => c.id === curveId);
  if (!curve) throw usageError(`--power-cap-curve '${curveId}' is not a published curve (${curves.map((c) => c.id).join(', ')})`);
  return { curve, mode: mode === 'auto' ? 'auto' : watts };
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new CarboncpError(ErrorCode.NOT_FOUND, `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function deviceProfileOf(ref: string): Promise<DeviceProfile> {
  return /\.json$/i.test(ref) || existsSync(ref) ? loadDeviceProfileFile(ref) : loadDeviceProfile(ref);
}

function seriesOf(text: string, file: string, zone: string | undefined, columns: { timeColumn?: string; valueColumn?: string }): TraceSeries {
  const parsed = parseTraceCsv(text, { ...columns, ...(zone ? { zone } : {}), defaultZone: zone ?? file.split('/').pop()!.replace(/\.csv$/i, '') });
  const series = zone ? parsed.series.get(zone) : parsed.series.size === 1 ? [...parsed.series.values()][0] : undefined;
  if (!series) {
    throw new CarboncpError(ErrorCode.BAD_TRACE, zone ? `${file} has no zone '${zone}' (zones: ${[...parsed.series.keys()].join(', ')})` : `${file} has several zones (${[...parsed.series.keys()].join(', ')}): name one with --zone`);
  }
  return series;
}

async function modelProfile(model: string | undefined, profileFile: string | undefined, io: Io): Promise<{ profile: ModelProfile; plans?: readonly Plan[]; outputBytes?: number }> {
  if ((model === undefined) === (profileFile === undefined)) throw usageError('give exactly one of --model and --profile');
  if (profileFile) return { profile: profileFromJson(JSON.parse(await readText(profileFile, '--profile'))) };
  const zoo = listModels().some((m) => m.name === model);
  const file = zoo ? await ensureModel(model!) : model!;
  if (!existsSync(file)) throw new CarboncpError(ErrorCode.NOT_FOUND, `'${model}' is neither a zoo model nor an existing .onnx file`);
  const inputShapes = zoo ? getZooModel(model!).inputShapes : undefined;
  const loaded = await readModelFile(file);
  const partition = await partitionWithProbe(loaded, inputShapes ? { inputShapes } : {});
  io.err(`[simulate] profiling ${partition.plans.length} plans of ${loaded.name} on this machine`);
  const profile = await profileModel(partition, { runs: 10, warmup: 2, checkCuts: 0, ...(inputShapes ? { inputShapes } : {}) });
  return { profile, plans: partition.plans, outputBytes: await outputBytesPerSample(loaded, inputShapes) };
}

/** A progress bar on the terminal (stderr), only when it is one. */
function progressBar(io: Io): ((done: number, expected: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, expected) => {
    const share = Math.min(1, done / expected);
    const width = 30;
    process.stderr.write(`\r[simulate] [${'#'.repeat(Math.round(share * width)).padEnd(width)}] ${(share * 100).toFixed(0).padStart(3)}% ${done}/${expected}`);
    if (done >= expected) process.stderr.write('\n');
  };
}

async function run(args: string[], io: Io): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { json: { type: 'boolean' } };
  for (const name of STRING_OPTIONS) options[name] = { type: 'string' };
  const { values, positionals } = parseCommon(
    args,
    options,
    'simulate',
  );
  if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
  const get = (k: string) => values[k] as string | undefined;
  const deviceRef = get('device');
  const carbonFile = get('carbon');
  if (!deviceRef || !carbonFile) throw usageError('--device and --carbon are required');
  const direction = get('direction') ?? 'up';
  if (direction !== 'up' && direction !== 'down') throw usageError(`--direction must be up or down, got '${direction}'`);
  const alphaText = get('alpha');
  const alpha = alphaText === undefined ? 0.1 : Number(alphaText);
  if (!(alpha > 0 && alpha < 1)) throw usageError(`--alpha must be in (0, 1), got '${alphaText}'`);
  // Unset: the simulator's default, every policy that applies (the model-variant ones need a family).
  const policies = get('policies')?.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of policies ?? []) if (!isPolicyName(p)) throw usageError(`unknown policy '${p}' (known: ${POLICY_NAMES.join(', ')})`);
  const sloMs = positive(get('slo-ms'), '--slo-ms', 500);
  const hours = positive(get('hours'), '--hours', 24);
  const perMinute = positive(get('rate'), '--rate', 1);
  const seed = positive(get('seed'), '--seed', 1, true);
  const budget = budgetOf(get('budget'));
  const powerCap = await powerCapOf(get('power-cap'), get('power-cap-curve'));
  const columns = { ...(get('time-col') ? { timeColumn: get('time-col') } : {}), ...(get('value-col') ? { valueColumn: get('value-col') } : {}) };

  if ((get('model') === undefined) === (get('profile') === undefined)) throw usageError('give exactly one of --model and --profile');
  const device = await deviceProfileOf(deviceRef);
  const reference = await loadDeviceProfile('dev-machine');
  const deviceCarbon = seriesOf(await readText(carbonFile, '--carbon'), carbonFile, get('zone'), columns);
  const serverFile = get('server-carbon') ?? carbonFile;
  const serverCarbon = seriesOf(serverFile === carbonFile ? await readText(carbonFile, '--carbon') : await readText(serverFile, '--server-carbon'), serverFile, get('server-zone') ?? (serverFile === carbonFile ? get('zone') : undefined), columns);
  const networkFile = get('network') ?? SHIPPED_UPLINK;
  const uplink = parseNetworkTrace(await readText(networkFile, '--network'), { name: networkFile.split('/').pop()!, direction, ...(get('trace') ? { trace: get('trace') } : {}) });
  // The traces are read first: a bad file fails before minutes of profiling.
  const radio = get('radio');
  if (radio !== undefined && !(RADIO_KINDS as readonly string[]).includes(radio)) throw usageError(`--radio must be one of ${RADIO_KINDS.join(', ')}, got '${radio}'`);
  const outputBytesText = get('output-bytes');
  const givenOutputBytes = outputBytesText === undefined ? undefined : Number(outputBytesText);
  if (givenOutputBytes !== undefined && !(Number.isSafeInteger(givenOutputBytes) && givenOutputBytes >= 0)) throw usageError(`--output-bytes must be an integer >= 0, got '${outputBytesText}'`);
  const { profile, plans, outputBytes: measuredOutputBytes } = await modelProfile(get('model'), get('profile'), io);
  const outputBytes = givenOutputBytes ?? measuredOutputBytes ?? 0;
  const serverPowerW = positive(get('server-power-w'), '--server-power-w', reference.power.activeW.value ?? 1);
  let headScale = 1;
  let headNote = 'heads as profiled (no relative speed for this device)';
  try {
    headScale = headScaleOf(device, reference);
    headNote = `heads x ${headScale.toFixed(2)} (device '${device.id}' against '${reference.id}')`;
  } catch {
    // Kept at 1 and said so in the report: the profile has no comparable speed figure.
  }
  const candidates = candidatesFromProfile(profile, { ...(plans ? { plans } : {}), outputBytesPerSample: outputBytes });
  const result = simulate({
    candidates,
    device,
    ...(radio ? { radio: radio as RadioKind } : {}),
    headScale,
    deviceCarbon,
    serverCarbon,
    uplink,
    server: { powerW: serverPowerW },
    hours,
    rate: { perMinute },
    sloMs,
    alpha,
    seed,
    ...(policies ? { policies: policies as PolicyName[] } : {}),
    ...(budget ? { budget } : {}),
    ...(powerCap ? { powerCap } : {}),
    maxSteps: 400, // the report's charts: enough resolution, a file of a few MB at most
    ...(values.json ? {} : { onProgress: progressBar(io) }),
  });
  const outputNote = `outputs ${outputBytes} B/sample ${givenOutputBytes !== undefined ? '(--output-bytes)' : measuredOutputBytes !== undefined ? '(measured)' : '(not given: --output-bytes)'}`;
  const context = { model: profile.modelName, device: device.id, radio: result.settings.radio ?? 'none', outputNote, deviceZone: deviceCarbon.zone, serverZone: serverCarbon.zone, uplink: uplink.source, hours, perMinute, sloMs, alpha, seed, serverPowerW, headNote };
  const reportFile = get('report');
  if (reportFile) await writeFile(reportFile, await renderHtmlReport(simulationReport(result, context)));
  if (values.json) {
    const spending = result.budget?.policies;
    io.out(JSON.stringify(result.policies.map((p) => (spending?.[p.policy] ? { ...p, budget: spending[p.policy] } : p)), null, 2));
    return EXIT.OK;
  }
  io.out(formatTable(result, context));
  if (reportFile) io.out(`report: ${reportFile}`);
  return EXIT.OK;
}

export interface SimulationContext {
  model: string;
  device: string;
  deviceZone: string;
  serverZone: string;
  uplink: string;
  hours: number;
  perMinute: number;
  sloMs: number;
  alpha: number;
  seed: number;
  serverPowerW: number;
  headNote: string;
  radio: string;
  outputNote: string;
}

function formatTable(result: SimulationResult, c: SimulationContext): string {
  const header = ['policy', 'carbon g', 'vs best fixed', 'SLO viol.', 'device J', 'regret %', 'coverage', 'top cut'];
  const fixed = result.policies.filter((p) => p.policy === 'device' || p.policy === 'server');
  const bestFixed = fixed.length ? Math.min(...fixed.map((p) => p.carbonG)) : Number.NaN;
  const rows = result.policies.map((p) => {
    const top = Object.entries(p.cutCounts).sort((a, b) => b[1] - a[1])[0];
    return [
      p.policy,
      p.carbonG.toPrecision(4),
      Number.isFinite(bestFixed) ? `${((100 * (bestFixed - p.carbonG)) / bestFixed).toFixed(1)}%` : '-',
      `${(p.sloViolationRate * 100).toFixed(1)}%`,
      p.deviceJ.toPrecision(4),
      p.regretPct.toFixed(1),
      p.coverage === null ? '-' : `${(p.coverage * 100).toFixed(1)}%`,
      top ? `${top[0]} (${((100 * top[1]) / p.requests).toFixed(0)}%)` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `${c.model} on ${c.device}: ${result.requests} requests over ${c.hours} h (${c.perMinute}/min), SLO ${c.sloMs} ms, alpha ${c.alpha}, seed ${c.seed}`,
    `grids: device ${c.deviceZone}, server ${c.serverZone}; uplink ${c.uplink} (${c.radio} radio); server ${c.serverPowerW} W per tail; ${c.headNote}; ${c.outputNote}`,
    '',
    line(header),
    ...rows.map(line),
  ].join('\n');
}

export const command: Command = {
  name: 'simulate',
  summary: 'compare split policies on real carbon and network traces (carbon, SLO, battery, regret)',
  usage,
  run,
};
