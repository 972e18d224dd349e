import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { isForecastMethod, FORECAST_METHODS } from './forecast.js';
import type { IntensityProvider, IntensitySignal } from './intensity.js';
import { StaticProvider } from './providers/static.js';
import { TRACE_STEPS_MINUTES } from './providers/trace-csv.js';
import { TRACE_WRAPS, TraceProvider, type TraceWrap } from './providers/trace.js';

/**
 * Provider specs: one string names a provider and its settings, as the command line takes them
 * (`carboncp carbon --provider SPEC`, `carboncp serve --carbon SPEC`).
 *
 *   NAME[:ARGUMENT][,KEY=VALUE]...
 *
 * e.g. `static:300`, `csv:trace.csv,zone=DE,value=ci_lca_gco2eq_per_kwh,wrap=year`. The argument
 * runs to the first comma (a file name or URL may not hold one); keys are lower case. Each NAME
 * maps to a factory in a registry the caller passes, so that providers living elsewhere (the HTTP
 * ones, Node-only ones) plug in without this file knowing them.
 */
export interface ProviderSpec {
  name: string;
  /** Text after 'NAME:' up to the first comma; undefined without a colon. */
  argument?: string;
  options: Record<string, string>;
  /** The whole spec as written. */
  text: string;
}

/** What a factory may need from its surroundings; each caller supplies what it has. */
export interface ProviderContext {
  /** Environment variables (API keys); default none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads a text file (Node: fs; a browser: fetch of a URL); csv needs it. */
  readText?: (path: string) => Promise<string>;
  /** fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export type ProviderFactory = (spec: ProviderSpec, context: ProviderContext) => IntensityProvider | Promise<IntensityProvider>;
export type ProviderFactories = Readonly<Record<string, ProviderFactory>>;

function invalid(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
}

export function parseProviderSpec(text: string): ProviderSpec {
  const trimmed = text.trim();
  const m = /^([a-z][a-z0-9-]*)(?::([^,]*))?((?:,.*)?)$/i.exec(trimmed);
  if (!m) throw invalid(`a provider spec is NAME[:ARGUMENT][,KEY=VALUE]..., got '${text}'`);
  const [, name, argument, rest] = m;
  const options: Record<string, string> = {};
  for (const part of rest.split(',').slice(1)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalid(`provider spec '${text}': '${part}' is not KEY=VALUE`);
    const key = part.slice(0, eq).trim().toLowerCase();
    if (key in options) throw invalid(`provider spec '${text}': '${key}' given twice`);
    options[key] = part.slice(eq + 1).trim();
  }
  return { name: name.toLowerCase(), ...(argument !== undefined ? { argument } : {}), options, text };
}

/** Throws for keys a factory does not take (a typo should not pass silently). */
export function checkSpecKeys(spec: ProviderSpec, allowed: readonly string[]): void {
  for (const key of Object.keys(spec.options)) {
    if (!allowed.includes(key)) throw invalid(`provider '${spec.name}' takes no '${key}' (it takes: ${allowed.join(', ') || 'no options'})`);
  }
}

export async function createProvider(spec: string | ProviderSpec, factories: ProviderFactories, context: ProviderContext = {}): Promise<IntensityProvider> {
  const parsed = typeof spec === 'string' ? parseProviderSpec(spec) : spec;
  const factory = Object.hasOwn(factories, parsed.name) ? factories[parsed.name] : undefined;
  if (!factory) throw invalid(`unknown carbon provider '${parsed.name}' (known: ${Object.keys(factories).join(', ')})`);
  return factory(parsed, context);
}

function signalOption(spec: ProviderSpec): IntensitySignal | undefined {
  const s = spec.options.signal;
  if (s === undefined) return undefined;
  if (s !== 'average' && s !== 'marginal') throw invalid(`signal must be average or marginal, got '${s}'`);
  return s;
}

/** `static:G[,zone=Z][,signal=average|marginal]`: a constant G gCO2eq/kWh (points are `estimated`). */
export const staticFactory: ProviderFactory = (spec) => {
  checkSpecKeys(spec, ['zone', 'signal']);
  const text = spec.argument ?? '';
  const g = Number(text);
  if (text.trim() === '' || !Number.isFinite(g) || g < 0) throw invalid(`static needs a non-negative gCO2eq/kWh, as in static:300; got '${spec.text}'`);
  const signal = signalOption(spec);
  return new StaticProvider(g, { ...(spec.options.zone ? { zone: spec.options.zone } : {}), ...(signal ? { signal } : {}) });
};

export const CSV_SPEC_KEYS = ['zone', 'time', 'value', 'zone-column', 'step', 'wrap', 'method', 'signal'] as const;

/**
 * `csv:FILE[,zone=Z][,time=COL][,value=COL][,zone-column=COL|none][,step=5|15|30|60][,wrap=none|year|week][,method=M][,signal=average|marginal]`:
 * a trace replayed (TraceProvider). Without a zone column, `zone` names the file's one series
 * (default: `defaultZone(path)`, e.g. the file's base name).
 */
export function csvFactory(defaultZone: (path: string) => string = () => 'unknown'): ProviderFactory {
  return async (spec, context) => {
    checkSpecKeys(spec, CSV_SPEC_KEYS);
    const path = spec.argument ?? '';
    if (path === '') throw invalid(`csv needs a file, as in csv:trace.csv; got '${spec.text}'`);
    if (!context.readText) throw invalid('csv: nothing here can read files (no readText in the provider context)');
    const o = spec.options;
    let stepMinutes: number | undefined;
    if (o.step !== undefined) {
      stepMinutes = Number(o.step);
      if (!TRACE_STEPS_MINUTES.includes(stepMinutes)) throw invalid(`step must be one of ${TRACE_STEPS_MINUTES.join(', ')} (minutes), got '${o.step}'`);
    }
    if (o.wrap !== undefined && !(TRACE_WRAPS as readonly string[]).includes(o.wrap)) throw invalid(`wrap must be one of ${TRACE_WRAPS.join(', ')}, got '${o.wrap}'`);
    if (o.method !== undefined && !isForecastMethod(o.method)) throw invalid(`method must be one of ${FORECAST_METHODS.join(', ')}, got '${o.method}'`);
    const signal = signalOption(spec);
    const text = await context.readText(path);
    const zoneColumn = o['zone-column'] === undefined ? undefined : o['zone-column'] === 'none' ? null : o['zone-column'];
    const trace = TraceProvider.fromCsv(text, {
      source: `csv:${path}`,
      ...(o.time !== undefined ? { timeColumn: o.time } : {}),
      ...(o.value !== undefined ? { valueColumn: o.value } : {}),
      ...(zoneColumn !== undefined ? { zoneColumn } : {}),
      ...(stepMinutes !== undefined ? { stepMinutes } : {}),
      ...(o.wrap !== undefined ? { wrap: o.wrap as TraceWrap } : {}),
      ...(o.method !== undefined && isForecastMethod(o.method) ? { forecastMethod: o.method } : {}),
      ...(signal ? { signal } : {}),
      ...(o.zone !== undefined ? { zone: o.zone } : { defaultZone: defaultZone(path) }),
    });
    return trace;
  };
}
