// The browser's context sources where the APIs exist (a stubbed navigator) and where they do not.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../client/clock.js';
import { NO_BATTERY_API, browserBatterySource, connectionHint, sampleBrowserContext } from './browser-context.js';

afterEach(() => vi.unstubAllGlobals());

describe('browser context', () => {
  it('reads the battery through navigator.getBattery() where it exists (Chromium)', async () => {
    vi.stubGlobal('navigator', { getBattery: async () => ({ level: 0.42, charging: false }) });
    const found = await browserBatterySource(new ManualClock(500));
    expect(await found.source!.read()).toEqual({ kind: 'measured', batteryPercent: 42, charging: false, externalPower: false, source: 'navigator.getBattery', at: 500 });
  });

  it('says there is no battery API instead of guessing (Firefox, Safari)', async () => {
    vi.stubGlobal('navigator', {});
    expect(await browserBatterySource()).toEqual({ source: undefined, reason: NO_BATTERY_API });
    expect(NO_BATTERY_API).toMatch(/not in Firefox or Safari/);
  });

  it("takes navigator.connection's hints where present, and the carbon of the server's last pong", async () => {
    vi.stubGlobal('navigator', { connection: { effectiveType: '4g', downlink: 9.5, rtt: 50, saveData: false } });
    expect(connectionHint()).toEqual({ effectiveType: '4g', downlinkMbps: 9.5, rttMs: 50, saveData: false });
    const context = await sampleBrowserContext({
      networkEstimate: () => undefined,
      lastServerContext: { queueDepth: 0, inFlight: 0, tailMs: {}, carbonIntensity: { valueGPerKwh: 250, source: 'grid' }, rttMs: 1, receivedAt: 0 },
    });
    expect(context).toEqual({
      battery: { unavailable: NO_BATTERY_API },
      network: undefined,
      connection: { effectiveType: '4g', downlinkMbps: 9.5, rttMs: 50, saveData: false },
      carbon: { valueGPerKwh: 250, source: 'grid' },
    });
    vi.stubGlobal('navigator', {});
    expect(connectionHint()).toBeUndefined();
  });
});
