import { describe, expect, it } from 'vitest';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import type { Partition } from '@carboncp/core';
import { createCalibratedPolicy, serverHttpUrl } from './calibrator-setup.js';

// The platform-neutral set-up (./browser's calibrator); ./node's adds device profiles by id and on-the-spot profiling.
const partition = { model: { digest: 'd'.repeat(64), name: 'm' }, plans: [] } as unknown as Partition;
const base = { radio: 'wifi' as const, fallbackIntensityGPerKwh: 300, serverPowerW: 100, serverProfile: false as const };

describe('createCalibratedPolicy (neutral)', () => {
  it('needs the device profile as an object and, without a way to measure, the latency profile', async () => {
    const deviceProfile = await loadDeviceProfile('raspberry-pi-4');
    await expect(createCalibratedPolicy(partition, [], 'ws://127.0.0.1:1', { ...base, deviceProfile: 'raspberry-pi-4' as never })).rejects.toThrow(/deviceProfile must be a device profile object/);
    await expect(createCalibratedPolicy(partition, [], 'ws://127.0.0.1:1', { ...base, deviceProfile })).rejects.toThrow(/calibrator.profile is required here/);
    await expect(createCalibratedPolicy(partition, [], 'ws://127.0.0.1:1', null as never)).rejects.toThrow(/must be an options object/);
  });

  it("finds a server's HTTP routes from its WebSocket URL", () => {
    expect(serverHttpUrl('ws://10.0.0.2:8080/?x=1', '/v2/models/m/profile')).toBe('http://10.0.0.2:8080/v2/models/m/profile');
    expect(serverHttpUrl('wss://example.org', '/v2/health/ready')).toBe('https://example.org/v2/health/ready');
  });
});
