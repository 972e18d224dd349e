import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mulberry32 } from '../random.js';
import { sha256 } from './sha256.js';
import { sha256Hex } from './load-model.js';

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const nodeDigest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('sha256 in plain JavaScript (no crypto.subtle)', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('gives the FIPS 180-4 test vectors', () => {
    const text = (s: string) => new TextEncoder().encode(s);
    expect(hex(sha256(text('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(sha256(text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it("agrees with Node's digest at every padding boundary and on views at an offset", () => {
    const random = mulberry32(7);
    const source = Uint8Array.from({ length: 300 }, () => Math.floor(random() * 256));
    for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 191, 255]) {
      const view = source.subarray(3, 3 + length);
      expect(hex(sha256(view)), `length ${length}`).toBe(nodeDigest(view));
    }
  });

  it('is what sha256Hex uses when crypto.subtle is missing (an insecure browser context)', async () => {
    const bytes = new TextEncoder().encode('carboncp model bytes');
    const native = await sha256Hex(bytes);
    vi.stubGlobal('crypto', {});
    expect(await sha256Hex(bytes)).toBe(native);
    expect(native).toBe(nodeDigest(bytes));
  });
});
