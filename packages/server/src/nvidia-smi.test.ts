import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isCarboncpError } from '@carboncp/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { NVIDIA_SMI_ARGS, nvidiaSmiPowerSource, parseNvidiaSmiPower } from './nvidia-smi.js';
import { ServerCarbon } from './server-carbon.js';

describe('parseNvidiaSmiPower', () => {
  it('sums the GPUs that report a draw and names the ones that do not', () => {
    expect(parseNvidiaSmiPower('68.52\n')).toEqual({ watts: 68.52, kind: 'measured', source: 'nvidia-smi power.draw (1 GPU)' });
    const two = parseNvidiaSmiPower('100.25\r\n[N/A]\n50.5\n');
    expect(two.watts).toBeCloseTo(150.75, 12);
    expect(two.source).toBe('nvidia-smi power.draw (2 GPUs, 1 not reporting)');
  });

  it('refuses output with no number (CARBONCP_IO)', () => {
    for (const out of ['', '[Not Supported]\n', 'NVIDIA-SMI has failed\n']) {
      let error: unknown;
      try {
        parseNvidiaSmiPower(out);
      } catch (e) {
        error = e;
      }
      expect(isCarboncpError(error, ErrorCode.IO)).toBe(true);
    }
  });
});

describe('nvidiaSmiPowerSource (a fake nvidia-smi script)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carboncp-nvsmi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it.skipIf(process.platform === 'win32')('runs the command with the query arguments and parses its output', async () => {
    // The fake answers only when called with exactly the documented arguments.
    const fake = script('nvidia-smi', `[ "$*" = "${NVIDIA_SMI_ARGS.join(' ')}" ] && echo 250.00 || exit 9`);
    expect(await nvidiaSmiPowerSource({ command: fake }).read()).toEqual({ watts: 250, kind: 'measured', source: 'nvidia-smi power.draw (1 GPU)' });
  });

  it.skipIf(process.platform === 'win32')('a failing or missing command is CARBONCP_IO', async () => {
    await expect(nvidiaSmiPowerSource({ command: script('broken', 'exit 3') }).read()).rejects.toMatchObject({ code: ErrorCode.IO });
    await expect(nvidiaSmiPowerSource({ command: join(dir, 'absent') }).read()).rejects.toMatchObject({ code: ErrorCode.IO });
  });
});

describe('ServerCarbon with a power source', () => {
  it('uses the last reading (with its kind and source), and falls back to serverPowerW when a read fails', async () => {
    const readings: ({ watts: number; kind: 'measured'; source: string } | Error)[] = [
      { watts: 400, kind: 'measured', source: 'nvidia-smi power.draw (1 GPU)' },
      new Error('nvidia-smi gone'),
    ];
    let n = 0;
    const logs: string[] = [];
    const carbon = new ServerCarbon({
      carbonIntensity: { value_g_per_kwh: 100, source: 'grid' },
      carbonProvider: undefined,
      carbonRefreshMs: 1000,
      serverPowerW: 200,
      powerSource: {
        read: async () => {
          const r = readings[n++];
          if (r instanceof Error) throw r;
          return r;
        },
      },
      pue: 1.25,
      log: (l) => logs.push(l),
    });
    // Before any reading: serverPowerW, estimated. 100 ms x 200 W x 1.25 = 25 J.
    expect(carbon.account(100, 1)).toMatchObject({ energy_j: 25, energy_kind: 'estimated' });
    await carbon.samplePower();
    // 100 ms x 400 W x 1.25 = 50 J, measured; 50 / 3.6e6 x 100 g.
    const fp = carbon.account(100, 1);
    expect(fp.energy_j).toBeCloseTo(50, 12);
    expect(fp.energy_kind).toBe('measured');
    expect(fp.energy_source).toBe('nvidia-smi power.draw (1 GPU) 400 W x tail time x PUE 1.25');
    expect(fp.carbon_g).toBeCloseTo((50 / 3.6e6) * 100, 15);
    await carbon.samplePower();
    expect(carbon.account(100, 1)).toMatchObject({ energy_j: 25, energy_kind: 'estimated' });
    expect(logs.join('\n')).toMatch(/source failed \(nvidia-smi gone\); using serverPowerW 200 W/);
  });
});
