/**
 * Seeded mutation fuzzing of the decoder and the stream reader. The property, asserted for every
 * mutated frame: it either decodes to a valid message (one whose tensors can be read and which
 * re-encodes and decodes to the same message) or throws a CarboncpError whose code is in the
 * registry, with a close code; never any other error. "Never hangs": every case is a bounded
 * amount of work (no loop waits on anything), and the FrameReader, fed the bytes of a frame in
 * consecutive chunks, returns exactly what decodeFrame returns for the same bytes, or throws, or
 * is still waiting for bytes the frame declared but did not carry.
 */
import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { isErrorCode } from './error-codes.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { FrameReader } from './frame-reader.js';
import { MessageType, type Message } from './messages.js';
import { tensorToArray } from './tensor-codec.js';
import { allSamples, randomInt, seededRandom } from './fixtures/samples.js';

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x30, 0x39, 0x65];
const LIMITS = { maxPayload: 4096 };

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

function tensorsOf(message: Message) {
  return message.type === MessageType.InferRequest ? message.body.inputs : message.type === MessageType.InferResponse ? message.body.outputs : [];
}

/** A comparable form: tensor data as plain arrays. */
function plain(message: Message): unknown {
  return JSON.parse(JSON.stringify(message, (_key, value) => (value instanceof Uint8Array ? Array.from(value) : value)));
}

/** What a consumer does with a decoded message; any error here fails the test. */
function expectValid(message: Message): void {
  for (const tensor of tensorsOf(message)) tensorToArray(tensor);
  expect(plain(decodeFrame(encodeFrame(message), { maxPayload: 1 << 20 }))).toEqual(plain(message));
}

function expectRegisteredRefusal(error: unknown): CarboncpError {
  if (!(error instanceof CarboncpError)) throw error;
  expect(isErrorCode(error.code), `unregistered code ${error.code}: ${error.message}`).toBe(true);
  return error;
}

type Outcome = { message: Message } | { error: CarboncpError };

function decodeOutcome(bytes: Uint8Array): Outcome {
  try {
    return { message: decodeFrame(bytes, LIMITS) };
  } catch (error) {
    const refusal = expectRegisteredRefusal(error);
    expect(refusal.closeCode).toBeGreaterThanOrEqual(1002);
    return { error: refusal };
  }
}

describe('fuzzing the decoder with seeded mutations', () => {
  it('either decodes a valid message or throws a CarboncpError with a registered code, never anything else', () => {
    const frames = allSamples.map(encodeFrame);
    const random = seededRandom(20240611);
    const outcomes = { decoded: 0, rejected: 0 };
    const codes = new Set<string>();
    for (let i = 0; i < 6000; i++) {
      const outcome = decodeOutcome(mutate(frames[i % frames.length], random));
      if ('message' in outcome) {
        expectValid(outcome.message);
        outcomes.decoded++;
      } else {
        codes.add(outcome.error.code);
        outcomes.rejected++;
      }
    }
    // Both paths must have been exercised for the test to mean anything.
    expect(outcomes.decoded).toBeGreaterThan(100);
    expect(outcomes.rejected).toBeGreaterThan(1000);
    expect([...codes].sort()).toEqual(expect.arrayContaining(['CARBONCP_BAD_FRAME', 'CARBONCP_UNSUPPORTED_VERSION']));
  });

  it('decodes every unmutated sample', () => {
    for (const message of allSamples) {
      const outcome = decodeOutcome(encodeFrame(message));
      if (!('message' in outcome)) throw outcome.error;
      expect(plain(outcome.message)).toEqual(plain(message));
    }
  });
});

describe('fuzzing the FrameReader with mutated streams in consecutive chunks', () => {
  /** Feeds `bytes` in consecutive, non-overlapping chunks of 1..64 bytes. */
  function feed(bytes: Uint8Array, random: () => number): { messages: Message[]; error?: CarboncpError; buffered: number } {
    const reader = new FrameReader(LIMITS);
    const messages: Message[] = [];
    let offset = 0;
    try {
      while (offset < bytes.length) {
        const size = 1 + randomInt(random, 64);
        messages.push(...reader.push(bytes.subarray(offset, offset + size)));
        offset += size;
      }
    } catch (error) {
      return { messages, error: expectRegisteredRefusal(error), buffered: 0 };
    }
    return { messages, buffered: reader.bufferedBytes };
  }

  it('returns exactly the unmutated frames, whatever the chunking', () => {
    const random = seededRandom(7);
    const stream = allSamples.map(encodeFrame);
    const joined = new Uint8Array(stream.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const frame of stream) {
      joined.set(frame, at);
      at += frame.length;
    }
    for (let round = 0; round < 50; round++) {
      const { messages, error, buffered } = feed(joined, random);
      expect(error).toBeUndefined();
      expect(buffered).toBe(0);
      expect(messages.map(plain)).toEqual(allSamples.map(plain));
    }
  });

  it('agrees with decodeFrame on every mutated frame: the same message, or a refusal, or waiting for declared bytes', () => {
    const frames = allSamples.map(encodeFrame);
    const random = seededRandom(99);
    const seen = { same: 0, refused: 0, waiting: 0, streamed: 0 };
    for (let i = 0; i < 3000; i++) {
      const bytes = mutate(frames[i % frames.length], random);
      const single = decodeOutcome(bytes);
      const streamed = feed(bytes, random);
      for (const message of streamed.messages) expectValid(message);
      if ('message' in single) {
        // A frame decodeFrame accepts is exactly one frame: the reader must return it, and only it.
        expect(streamed.error).toBeUndefined();
        expect(streamed.buffered).toBe(0);
        expect(streamed.messages.map(plain)).toEqual([plain(single.message)]);
        seen.same++;
      } else if (streamed.error) {
        seen.refused++;
      } else if (streamed.messages.length > 0) {
        // decodeFrame refused trailing bytes that a stream reads as the start of the next frame.
        seen.streamed++;
      } else {
        // A truncated frame: the reader holds what came and waits for the rest, no more.
        expect(streamed.buffered).toBe(bytes.length);
        seen.waiting++;
      }
    }
    expect(seen.same).toBeGreaterThan(50);
    expect(seen.refused).toBeGreaterThan(500);
    expect(seen.waiting).toBeGreaterThan(50);
  });
});
