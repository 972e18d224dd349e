import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTable } from '@carboncp/calibrator';
import { TelemetryLog } from './telemetry-log.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'carboncp-telemetry-'));
  dirs.push(dir);
  return join(dir, 'telemetry.jsonl');
}

describe('TelemetryLog', () => {
  it('appends one JSON object per line, stamped, readable as a table with dotted columns', async () => {
    const file = await tempFile();
    let t = 1000;
    const log = await TelemetryLog.open(file, { now: () => t++ });
    for (let i = 0; i < 5; i += 1) expect(log.write({ planId: `split-${i}`, totalMs: 10 + i, footprint: { totalCarbonG: i * 1e-5 } })).toBe(true);
    await log.close();
    const again = await TelemetryLog.open(file, { now: () => 2000 });
    again.write({ planId: 'device', totalMs: 3 });
    await again.close();
    const rows = parseTable(await readFile(file, 'utf8'), 'jsonl');
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({ at: 1000, planId: 'split-0', totalMs: 10, 'footprint.totalCarbonG': 0 });
    expect(rows[4]!['footprint.totalCarbonG']).toBeCloseTo(4e-5, 15);
    expect(rows[5]).toEqual({ at: 2000, planId: 'device', totalMs: 3 });
    expect(log.written).toBe(5);
    expect(log.dropped).toBe(0);
  });

  it('drops and counts lines while the stream is backed up past its bound, and after close', async () => {
    const log = await TelemetryLog.open(await tempFile(), { maxBufferedBytes: 0 });
    expect(log.write({ totalMs: 1 })).toBe(true);
    expect(log.write({ totalMs: 2 })).toBe(false); // the first line is still in the stream's buffer
    await log.close();
    expect(log.write({ totalMs: 3 })).toBe(false);
    expect(log.dropped).toBe(2);
    expect(log.written).toBe(1);
  });

  it('refuses a path it cannot open with CARBONCP_IO', async () => {
    await expect(TelemetryLog.open(join(await tempFile(), 'no', 'such', 'dir.jsonl'))).rejects.toMatchObject({ code: 'CARBONCP_IO' });
  });
});
