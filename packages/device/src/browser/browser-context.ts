import { systemClock, type Clock } from '../client/clock.js';
import type { PowerReading, PowerSource } from '../client/power-source.js';
import type { NetworkEstimate } from '../client/network-estimator.js';
import type { ServerContext } from '../client/types.js';

/** The Battery Status API's BatteryManager, as far as it is read here. */
interface BatteryManager {
  level: number;
  charging: boolean;
}

type BrowserNavigator = {
  getBattery?: () => Promise<BatteryManager>;
  connection?: { effectiveType?: string; downlink?: number; rtt?: number; saveData?: boolean; type?: string };
};

const browserNavigator = (): BrowserNavigator | undefined => (globalThis as { navigator?: BrowserNavigator }).navigator;

/** Why there is no battery reading where navigator.getBattery() is missing. */
export const NO_BATTERY_API =
  'navigator.getBattery() is missing: the Battery Status API exists in Chromium-based browsers (Chrome, Edge, Electron) only, not in Firefox or Safari';

/**
 * Battery level and charging state from navigator.getBattery(), as a PowerSource for the
 * client's PowerSampler. A browser gives no power draw (no watts): readings carry the battery
 * only, so request energy comes from a power model, not from this source. Construct it with
 * browserBatterySource(), which says when the API is missing instead of guessing a value.
 */
export class BrowserBatterySource implements PowerSource {
  readonly name = 'navigator.getBattery';
  readonly suggestedIntervalMs = 10_000;

  constructor(
    private readonly battery: BatteryManager,
    private readonly clock: Clock = systemClock,
  ) {}

  async read(): Promise<PowerReading> {
    const { level, charging } = this.battery;
    // Chromium reports charging true whenever mains is connected (also when full).
    return { kind: 'measured', batteryPercent: level * 100, charging, externalPower: charging, source: 'navigator.getBattery', at: this.clock.now() };
  }
}

/** The battery source where the browser has the API, else why not (Firefox, Safari). */
export async function browserBatterySource(clock: Clock = systemClock): Promise<{ source: BrowserBatterySource } | { source: undefined; reason: string }> {
  const getBattery = browserNavigator()?.getBattery;
  if (typeof getBattery !== 'function') return { source: undefined, reason: NO_BATTERY_API };
  try {
    return { source: new BrowserBatterySource(await getBattery.call(browserNavigator()), clock) };
  } catch (error) {
    return { source: undefined, reason: `navigator.getBattery() failed: ${(error as Error).message}` };
  }
}

/** What navigator.connection (Network Information API; Chromium only) says, undefined where it is missing. */
export interface ConnectionHint {
  effectiveType?: string;
  /** Downlink estimate in Mbit/s, rounded by the browser (to 25 kbit/s, capped at 10 Mbit/s). */
  downlinkMbps?: number;
  /** Round-trip estimate in ms, rounded by the browser (to 25 ms). */
  rttMs?: number;
  saveData?: boolean;
  type?: string;
}

export function connectionHint(): ConnectionHint | undefined {
  const connection = browserNavigator()?.connection;
  if (!connection) return undefined;
  const hint: ConnectionHint = {};
  if (connection.effectiveType !== undefined) hint.effectiveType = connection.effectiveType;
  if (typeof connection.downlink === 'number') hint.downlinkMbps = connection.downlink;
  if (typeof connection.rtt === 'number') hint.rttMs = connection.rtt;
  if (connection.saveData !== undefined) hint.saveData = connection.saveData;
  if (connection.type !== undefined) hint.type = connection.type;
  return hint;
}

/** The context a page has for a decision, each part labelled by where it came from. */
export interface BrowserContext {
  battery: PowerReading | { unavailable: string };
  /** From the client's own transfers and pings (networkEstimate()); undefined before the first. */
  network: NetworkEstimate | undefined;
  /** navigator.connection's coarse hints; undefined where the browser has no such API. */
  connection: ConnectionHint | undefined;
  /** The server's grid intensity from its last pong (serverContext()); the page knows no grid of its own. */
  carbon: ServerContext['carbonIntensity'] | undefined;
}

/** Samples the browser context of a client: battery, network (transfers, navigator.connection), carbon (the server's pong). */
export async function sampleBrowserContext(client: { networkEstimate(): NetworkEstimate | undefined; readonly lastServerContext: ServerContext | undefined }): Promise<BrowserContext> {
  const found = await browserBatterySource();
  return {
    battery: found.source ? await found.source.read() : { unavailable: found.reason },
    network: client.networkEstimate(),
    connection: connectionHint(),
    carbon: client.lastServerContext?.carbonIntensity,
  };
}
