import { isCarboncpError } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { LinkActivity, NetworkProbe, PROBE_DEFAULTS, type ProbeLink } from './network-probe.js';

/** A link whose pongs come `rttMs` after each ping, on the manual clock. */
function fakeLink(clock: ManualClock, rttMs = 10) {
  const state = { connected: true, idle: true, pings: [] as number[] };
  const link: ProbeLink = {
    ping: (_timeoutMs, padBytes) =>
      new Promise((resolve) => {
        state.pings.push(padBytes);
        clock.setTimeout(() => resolve({ bytesUp: 40 + padBytes }), rttMs);
      }),
    connected: () => state.connected,
    idle: () => state.idle,
  };
  return { state, link };
}

describe('NetworkProbe rate limits (ManualClock)', () => {
  it('sends a small ping then a padded one, at most one probe per intervalMs', async () => {
    const clock = new ManualClock();
    const { state, link } = fakeLink(clock);
    const probe = new NetworkProbe(clock, link, { intervalMs: 10_000, bytes: 1000, maxBytesPerMinute: 100_000 });
    const first = probe.probe();
    expect(probe.refusal()).toBe('in-progress');
    expect(await probe.probe()).toEqual({ sent: false, reason: 'in-progress' });
    await clock.advance(20);
    expect(await first).toEqual({ sent: true, bytes: 40 + 1040 });
    expect(state.pings).toEqual([0, 1000]);
    await clock.advance(10_000 - 21);
    expect(await probe.probe()).toEqual({ sent: false, reason: 'too-soon' });
    await clock.advance(1);
    const second = probe.probe();
    await clock.advance(20);
    expect(await second).toMatchObject({ sent: true });
    expect(state.pings).toEqual([0, 1000, 0, 1000]);
  });

  it('never probes while a request is in flight, and gives up between the pings when one starts', async () => {
    const clock = new ManualClock();
    const { state, link } = fakeLink(clock);
    const probe = new NetworkProbe(clock, link, { intervalMs: 1000, bytes: 1000 });
    state.idle = false;
    expect(await probe.probe()).toEqual({ sent: false, reason: 'busy' });
    expect(state.pings).toEqual([]);
    state.idle = true;
    const started = probe.probe();
    state.idle = false; // a request starts while the small ping is out
    await clock.advance(10);
    expect(await started).toEqual({ sent: false, reason: 'busy' });
    expect(state.pings).toEqual([0]);
    state.connected = false;
    await clock.advance(1000);
    expect(await probe.probe()).toEqual({ sent: false, reason: 'not-connected' });
  });

  it('bounds the padding sent in any 60 s by maxBytesPerMinute', async () => {
    const clock = new ManualClock();
    const { state, link } = fakeLink(clock, 1);
    const probe = new NetworkProbe(clock, link, { intervalMs: 10_000, bytes: 40_000, maxBytesPerMinute: 100_000 });
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const outcome = probe.probe();
      await clock.advance(2);
      const result = await outcome;
      outcomes.push(result.sent ? 'sent' : result.reason);
      await clock.advance(10_000 - 2);
    }
    // Padding went at 1 ms and 10.001 s (80 kB); another 40 kB would pass 100 kB in 60 s until
    // the first has aged out: still in the window at 60 s (sent at 1 ms), out of it at 70 s.
    expect(outcomes).toEqual(['sent', 'sent', 'budget', 'budget', 'budget', 'budget', 'budget', 'sent']);
    expect(state.pings.filter((bytes) => bytes > 0)).toHaveLength(3);
    // At 80 s only the padding of the probe at 70 s is in the window.
    expect(probe.bytesLastMinute).toBe(40_000);
  });

  it('probes on a timer with auto, skipping while busy; stop() leaves no timer, and the timer never holds the process', async () => {
    const clock = new ManualClock();
    const { state, link } = fakeLink(clock);
    const probe = new NetworkProbe(clock, link, { intervalMs: 5000, bytes: 1000, auto: true });
    expect(clock.pending()).toBe(1);
    expect(clock.pending(true)).toBe(0);
    await clock.advance(5000 + 20);
    expect(state.pings).toEqual([0, 1000]);
    // The next tick is intervalMs after that probe ended (at 10.02 s): busy, skipped.
    state.idle = false;
    await clock.advance(5000);
    expect(state.pings).toEqual([0, 1000]);
    state.idle = true;
    await clock.advance(5000 + 20);
    expect(state.pings).toEqual([0, 1000, 0, 1000]);
    probe.stop();
    await clock.advance(60_000);
    expect(clock.pending()).toBe(0);
    expect(state.pings).toHaveLength(4);
  });

  it('refuses limits that are not positive, padding past its bound, and a probe larger than the budget', () => {
    const clock = new ManualClock();
    const { link } = fakeLink(clock);
    const refused = (options: ConstructorParameters<typeof NetworkProbe>[2]) => {
      try {
        new NetworkProbe(clock, link, options);
      } catch (error) {
        expect(isCarboncpError(error) && error.code).toBe('CARBONCP_INVALID_ARGUMENT');
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ intervalMs: 0 })).toMatch(/networkProbe.intervalMs must be a positive number/);
    expect(refused({ bytes: PROBE_DEFAULTS.maxBytes + 1, maxBytesPerMinute: 1e9 })).toMatch(/networkProbe.bytes must be a whole number up to 262144/);
    expect(refused({ bytes: 2000, maxBytesPerMinute: 1000 })).toMatch(/exceeds networkProbe.maxBytesPerMinute/);
    expect(refused({})).toBe('accepted');
    expect(() => new NetworkProbe(clock, link, { bytes: 1500 }, 1500)).toThrow(/networkProbe.bytes must exceed network.smallBytes \(1500\)/);
  });
});

describe('LinkActivity', () => {
  it('marks overlapping trips as shared and remembers when the link was last busy', () => {
    const clock = new ManualClock();
    const activity = new LinkActivity(clock);
    const alone = activity.begin();
    clock.busy(5);
    expect(alone.end()).toBe(false);
    expect(activity.busySince(4)).toBe(true);
    expect(activity.busySince(5)).toBe(false);
    const a = activity.begin();
    const b = activity.begin();
    expect(activity.trips).toBe(2);
    expect(a.end()).toBe(true);
    const c = activity.begin(); // overlaps b only
    expect(b.end()).toBe(true);
    expect(c.end()).toBe(true);
    expect(activity.begin().end()).toBe(false);
  });
});
