import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { FrameReader } from './frame-reader.js';
import { MessageType } from './messages.js';
import { tensorToArray } from './tensor-codec.js';
import { allSamples, randomInt, seededRandom } from './fixtures/samples.js';

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x30, 0x39, 0x65];

/** One seeded mutation: flip, overwrite with a JSON-significant byte, insert, delete or truncate. */
function mutate(frame: Uint8Array, random: () => number): Uint8Array {
  const bytes = Array.from(frame);
  const edits = 1 + randomInt(random, 4);
  for (let e = 0; e < edits && bytes.length > 0; e++) {
    const at = randomInt(random, bytes.length);
    switch (randomInt(random, 5)) {
      case 0:
        bytes[at] ^= 1 << randomInt(random, 8);
        break;
      case 1:
        bytes[at] = INTERESTING[randomInt(random, INTERESTING.length)];
        break;
      case 2:
        bytes.splice(at, 0, randomInt(random, 256));
        break;
      case 3:
        bytes.splice(at, 1);
        break;
      default:
        bytes.length = at;
    }
  }
  return Uint8Array.from(bytes);
}

/** Touches every tensor the way a consumer would, so a bad view would surface here. */
function consume(message: ReturnType<typeof decodeFrame>): void {
  const tensors =
    message.type === MessageType.InferRequest
      ? message.body.inputs
      : message.type === MessageType.InferResponse
        ? message.body.outputs
        : [];
  for (const tensor of tensors) tensorToArray(tensor);
}

describe('fuzzing the decoder with seeded mutations', () => {
  it('either decodes a valid message or throws CarboncpError, never anything else', () => {
    const frames = allSamples.map(encodeFrame);
    const random = seededRandom(20240611);
    const outcomes = { decoded: 0, rejected: 0 };
    for (let i = 0; i < 6000; i++) {
      const mutated = mutate(frames[i % frames.length], random);
      let message: ReturnType<typeof decodeFrame>;
      try {
        message = decodeFrame(mutated, { maxPayload: 4096 });
      } catch (error) {
        if (!(error instanceof CarboncpError)) throw error;
        expect(error.code).toMatch(/^CARBONCP_/);
        expect(error.closeCode).toBeGreaterThanOrEqual(1002);
        outcomes.rejected++;
        continue;
      }
      // Outside the try: what the decoder accepts must be usable and must re-encode, no error allowed.
      consume(message);
      encodeFrame(message);
      outcomes.decoded++;
    }
    // Both paths must have been exercised for the test to mean anything.
    expect(outcomes.decoded).toBeGreaterThan(100);
    expect(outcomes.rejected).toBeGreaterThan(1000);
  });

  it('FrameReader fed mutated streams only returns messages or throws CarboncpError', () => {
    const frames = allSamples.map(encodeFrame);
    const random = seededRandom(99);
    for (let i = 0; i < 1500; i++) {
      const reader = new FrameReader({ maxPayload: 4096 });
      const bytes = mutate(frames[i % frames.length], random);
      try {
        for (let offset = 0; offset < bytes.length; offset += 1 + randomInt(random, 64)) {
          for (const message of reader.push(bytes.subarray(offset, offset + 1 + randomInt(random, 64)))) consume(message);
        }
      } catch (error) {
        if (!(error instanceof CarboncpError)) throw error;
      }
    }
  });
});
