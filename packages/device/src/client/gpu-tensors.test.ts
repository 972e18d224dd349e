// A runtime whose tensors live off the CPU (as onnxruntime-web's WebGPU buffers do): the client
// must bring them to the CPU through Runtime.toCpu before it describes or sends them.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';
import type { RuntimeSession, TensorData } from './types.js';

/** A FakeTensor on a pretend GPU: its data cannot be read synchronously. */
const onGpu = (tensor: FakeTensor): FakeTensor & { location: string } => ({
  type: tensor.type,
  dims: tensor.dims,
  location: 'gpu-buffer',
  get data(): TensorData {
    throw new Error('the data of a GPU tensor is read with await getData()');
  },
  cpu: tensor,
} as FakeTensor & { location: string });

class GpuFakeRuntime extends FakeRuntime {
  downloads = 0;
  override async load(bytes: Uint8Array): Promise<RuntimeSession<FakeTensor>> {
    const session = await super.load(bytes);
    // Outputs stay on the "GPU", as with preferredOutputLocation 'gpu-buffer'.
    return { ...session, run: async (feeds) => Object.fromEntries(Object.entries(await session.run(feeds)).map(([k, v]) => [k, onGpu(v)])) };
  }
  async toCpu(tensor: FakeTensor): Promise<FakeTensor> {
    const cpu = (tensor as { cpu?: FakeTensor }).cpu;
    if (!cpu) return tensor;
    this.downloads += 1;
    return cpu;
  }
}

const clients: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('tensors that live off the CPU (Runtime.toCpu)', () => {
  it('reads GPU inputs and GPU head outputs through toCpu, then splits as usual', async () => {
    const clock = new ManualClock(1_000);
    const model = fakeModel();
    const runtime = new GpuFakeRuntime();
    const client = await SplitClient.open({ model, runtime, transport: new FakeServer(model, clock), server: 'ws://fake', clock });
    clients.push(client);
    const x = seededFloats(3, 8);
    const result = await client.infer({ x: onGpu({ type: 'float32', dims: [2, 4], data: x }) }, { cut: 'split-1' });
    expect(result.telemetry.path).toBe('split');
    expect(runtime.downloads).toBe(2); // the input, then the head's output 'h'
    const y = result.outputs.y.data as Float32Array;
    const expected = model.local(x);
    expect(y.length).toBe(expected.length);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(expected[i], 5);
  });

  it('without toCpu a GPU input is refused as unreadable (CARBONCP_BAD_TENSOR), not sent', async () => {
    const clock = new ManualClock(1_000);
    const model = fakeModel();
    const client = await SplitClient.open({ model, runtime: new FakeRuntime(), transport: new FakeServer(model, clock), server: 'ws://fake', clock });
    clients.push(client);
    const gpu = onGpu({ type: 'float32', dims: [2, 4], data: seededFloats(4, 8) });
    await expect(client.infer({ x: gpu }, { cut: 'server' })).rejects.toMatchObject({ code: 'CARBONCP_BAD_TENSOR' });
  });
});
