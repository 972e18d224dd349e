import { tensorFromArray, type WireTensor } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { transferable } from './tail-worker-pool.js';
import { buffersOf } from './tail-worker-protocol.js';

function viewInto(chunk: Buffer, at: number, values: Float32Array): WireTensor {
  chunk.set(new Uint8Array(values.buffer), at);
  const tensor = tensorFromArray('x', values, [values.length]);
  return { ...tensor, data: chunk.subarray(at, at + values.byteLength) };
}

describe('transferable: what crosses to a tail worker', () => {
  it('copies a view into a shared chunk once, into a buffer of its own, leaving the chunk whole', () => {
    const chunk = Buffer.alloc(4096);
    const values = Float32Array.from([1, 2, 3, 4]);
    const tensor = viewInto(chunk, 100, values);
    const moved = transferable(tensor);
    expect(moved.data.buffer).not.toBe(chunk.buffer);
    expect(moved.data.byteOffset).toBe(0);
    expect(moved.data.byteLength).toBe(moved.data.buffer.byteLength);
    expect(Array.from(new Float32Array(moved.data.buffer))).toEqual([1, 2, 3, 4]);
    // Transferring what crosses leaves the chunk (other requests' tensors) attached.
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(moved, buffersOf([moved]));
    port1.close();
    port2.close();
    expect(moved.data.byteLength).toBe(0);
    expect(chunk.byteLength).toBe(4096);
    expect(tensor.data.byteLength).toBe(16);
  });

  it('passes a tensor that owns its whole buffer as it is', () => {
    const tensor = tensorFromArray('x', Float32Array.from([5, 6]), [2]);
    expect(transferable(tensor)).toBe(tensor);
  });

  it('refuses a tensor whose buffer was detached, rather than send a message Node would drop', () => {
    const tensor = tensorFromArray('x', Float32Array.from([5, 6]), [2]);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(null, [tensor.data.buffer as ArrayBuffer]);
    port1.close();
    port2.close();
    expect(() => transferable(tensor)).toThrow(expect.objectContaining({ code: 'CARBONCP_INTERNAL', message: expect.stringMatching(/holds 0 bytes at the run, not the 8/) }));
    expect(buffersOf([tensor])).toEqual([]);
  });
});
