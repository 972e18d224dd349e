import { describe, expect, it } from 'vitest';
import { ErrorCode } from './error-codes.js';
import { CarboncpError } from './errors.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { MessageType, type Message } from './messages.js';
import { pongMessage } from './fixtures/samples.js';

// The committed pong fixture (pong.hex) stays without power_cap: the field is optional, and a
// pong from a server that manages no cap is byte-identical to before.
function pongWith(extra: Record<string, unknown>): Message {
  const sample = pongMessage as Extract<Message, { type: MessageType.Pong }>;
  return { ...sample, body: { ...sample.body, ...extra } };
}

describe('pong power_cap', () => {
  it('round-trips the GPU power cap', () => {
    const power_cap = { watts: 300, default_watts: 500, gpus: 2, source: 'nvidia-smi power.limit, auto (carbon 450 g/kWh >= 400: 0.6 x default)' };
    const decoded = decodeFrame(encodeFrame(pongWith({ power_cap })));
    if (decoded.type !== MessageType.Pong) throw new Error(`expected a pong, got ${MessageType[decoded.type]}`);
    expect(decoded.body.power_cap).toEqual(power_cap);
    expect(decoded.body.carbon_intensity).toEqual({ value_g_per_kwh: 231, source: 'static' });
  });

  it('refuses a malformed cap naming the field', () => {
    const good = { watts: 150, default_watts: 250, gpus: 1, source: 'x' };
    const bad: [Record<string, unknown>, string][] = [
      [{ power_cap: 150 }, 'pong.power_cap'],
      [{ power_cap: { ...good, watts: -1 } }, 'watts'],
      [{ power_cap: { ...good, default_watts: 'full' } }, 'default_watts'],
      [{ power_cap: { ...good, gpus: 0 } }, 'gpus'],
      [{ power_cap: { ...good, gpus: 1.5 } }, 'gpus'],
      [{ power_cap: { watts: 1, default_watts: 1, gpus: 1 } }, 'source'],
    ];
    for (const [extra, field] of bad) {
      let error: unknown;
      try {
        encodeFrame(pongWith(extra));
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(CarboncpError);
      expect((error as CarboncpError).code).toBe(ErrorCode.BAD_FRAME);
      expect((error as CarboncpError).message).toContain(field);
    }
  });
});
