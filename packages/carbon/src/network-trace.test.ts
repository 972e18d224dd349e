import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capacityAt, checkCapacityTrace, drainMs, meanCapacity, parseNetworkTrace, type CapacityTrace } from './network-trace.js';

const steps: CapacityTrace = { startsMs: [0, 100, 200], bps: [8000, 0, 16000], periodMs: 300, source: 'test' }; // 1 B/ms, nothing, 2 B/ms

describe('capacity traces', () => {
  it('drains bits step by step, waiting through empty steps, looping', () => {
    expect(drainMs(steps, 0, 50 * 8)).toBeCloseTo(50, 9);
    expect(drainMs(steps, 50, 100 * 8)).toBeCloseTo(50 + 100 + 25, 9);
    expect(drainMs(steps, 255, 100 * 8)).toBeCloseTo(45 + 10, 9); // 90 B in step 2, 10 B at 1 B/ms after the loop
    expect(capacityAt(steps, 250)).toBe(16000);
    expect(capacityAt(steps, 310)).toBe(8000);
    expect(meanCapacity(steps, 0, 300)).toBeCloseTo(8000, 9);
    expect(() => checkCapacityTrace({ ...steps, bps: [0, 0, 0] })).toThrow(/not all 0/);
  });

  it('moves on at a step boundary that rounding puts back onto the step just left (a start such as 100.00000000000001 ms, from 0.1 s x 1000)', () => {
    // At t = 400 (second loop) the step start 100.00000000000001 + 300 rounds to 400: recomputing
    // the step from the absolute time found the same step, ending at t, and never left it.
    const fine: CapacityTrace = { startsMs: [0, 100.00000000000001, 200], bps: [8000, 8000, 8000], periodMs: 300, source: 'test' };
    expect(drainMs(fine, 350, 100 * 8)).toBeCloseTo(100, 9);
    expect(drainMs(fine, 399.99999999999994, 1000 * 8)).toBeCloseTo(1000, 9);
    expect(meanCapacity(fine, 350, 1350)).toBeCloseTo(8000, 9);
    expect(drainMs(fine, 10, 0)).toBe(0);
  });

  it('parses Mahimahi-style rows (trace, direction, time, capacity) and Pensieve-style irregular rows', () => {
    const mahimahi = 'trace,direction,t_start_s,capacity_mbps,packets\nA,down,0.0,9,1\nA,up,0.0,1,1\nA,up,0.1,2,1\nB,up,0.0,5,1\n';
    const up = parseNetworkTrace(mahimahi, { name: 'm.csv' });
    expect(up).toEqual({ startsMs: [0, 100], bps: [1e6, 2e6], periodMs: 200, source: 'm.csv A up' });
    expect(parseNetworkTrace(mahimahi, { trace: 'A', direction: 'down' }).bps).toEqual([9e6]);
    const pensieve = parseNetworkTrace('trace,time_s,throughput_mbps\nbus,10.0,4\nbus,10.5,2\nbus,11.5,3\ncar,0,1\n');
    expect(pensieve.startsMs).toEqual([0, 500, 1500]);
    expect(pensieve.periodMs).toBe(2500); // the last time plus the (upper) median step, 1 s
    expect(pensieve.source).toBe('bus');
    expect(() => parseNetworkTrace('a,b\n1,2\n')).toThrow(/no time column/);
    expect(() => parseNetworkTrace(mahimahi, { trace: 'Z' })).toThrow(/no rows for trace 'Z'/);
    expect(parseNetworkTrace('when,rate\n0,1\n1,2\n', { timeColumn: 'when', valueColumn: 'rate' }).bps).toEqual([1e6, 2e6]);
  });

  const real = new URL('../../../../shared/data/network/mahimahi_cellular_capacity_100ms.csv', import.meta.url);
  it.skipIf(!existsSync(real))('reads every Mahimahi uplink of ../shared/data', () => {
    const text = readFileSync(real, 'utf8');
    for (const trace of ['ATT-LTE-driving-2016', 'TMobile-LTE-short', 'Verizon-LTE-short']) {
      const t = parseNetworkTrace(text, { trace });
      expect(t.startsMs[1]).toBeCloseTo(100, 6);
      const mbps = meanCapacity(t, 0, t.periodMs) / 1e6;
      expect(mbps).toBeGreaterThan(0.5);
      expect(mbps).toBeLessThan(30);
    }
  });
});
