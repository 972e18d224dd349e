import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';
import { decodeFrame } from './frame-decoder.js';
import { DEFAULT_MAX_PAYLOAD, resolveLimits } from './limits.js';

describe('default limits', () => {
  it('the one max-payload default is 64 MiB, and the decoder applies it when given none', () => {
    expect(DEFAULT_MAX_PAYLOAD).toBe(64 * 1024 * 1024);
    expect(resolveLimits(undefined).maxPayload).toBe(DEFAULT_MAX_PAYLOAD);
    let error: unknown;
    try {
      decodeFrame(new Uint8Array(DEFAULT_MAX_PAYLOAD + 1));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CarboncpError);
    expect((error as CarboncpError).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect((error as CarboncpError).message).toContain(String(DEFAULT_MAX_PAYLOAD));
  });
});
