import { describe, expect, it } from 'vitest';
import { ErrorCode } from './error-codes.js';
import { CarboncpError } from './errors.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { MessageType, type Message } from './messages.js';
import { inferResponseMessage } from './fixtures/samples.js';

function withParameters(extra: Record<string, unknown>): Message {
  const sample = inferResponseMessage as Extract<Message, { type: MessageType.InferResponse }>;
  return { ...sample, body: { ...sample.body, parameters: { ...sample.body.parameters, ...extra } } };
}

describe('infer response energy and carbon fields', () => {
  it('round-trips energy_j, energy_kind, energy_source, carbon_g and carbon_intensity', () => {
    const fields = {
      energy_j: 0.9,
      energy_kind: 'estimated',
      energy_source: 'serverPowerW 300 W x tail time',
      carbon_g: 0.0001,
      carbon_intensity: { value_g_per_kwh: 400, source: 'static GB' },
    };
    const decoded = decodeFrame(encodeFrame(withParameters(fields)));
    expect(decoded.type).toBe(MessageType.InferResponse);
    if (decoded.type !== MessageType.InferResponse) return;
    expect(decoded.body.parameters).toMatchObject(fields);
  });

  it('stays valid without them (old servers) and refuses bad values naming the field', () => {
    expect(() => encodeFrame(withParameters({}))).not.toThrow();
    const bad: [Record<string, unknown>, string][] = [
      [{ energy_j: -1 }, 'energy_j'],
      [{ carbon_g: 'x' }, 'carbon_g'],
      [{ energy_kind: 'guessed' }, 'energy_kind'],
      [{ energy_source: 3 }, 'energy_source'],
      [{ carbon_intensity: { value_g_per_kwh: -2, source: 's' } }, 'carbon_intensity'],
      [{ carbon_intensity: { value_g_per_kwh: 2 } }, 'carbon_intensity.source'],
    ];
    for (const [extra, field] of bad) {
      let error: unknown;
      try {
        encodeFrame(withParameters(extra));
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(CarboncpError);
      expect((error as CarboncpError).code).toBe(ErrorCode.BAD_FRAME);
      expect((error as CarboncpError).message).toContain(field);
    }
  });
});
