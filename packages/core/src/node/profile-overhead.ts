/**
 * The per-run overhead of a session run outside its kernels (feeding inputs, reading outputs,
 * the binding's own cost), split into a fixed part and a part that grows with the bytes a run is
 * fed. One full-model run gives only the sum, so the fixed part is measured apart on a
 * one-element model; the rest is charged per input byte. A head fed 588 KiB and a tail fed 2 KiB
 * then pay different overheads, as they do. Output bytes are not charged: on ResNet-18, charging
 * them made the first head (3.2 MB out) 60% too slow, charging inputs alone left it within 10%.
 */
import * as ort from 'onnxruntime-node';
import { ModelBuilder } from '../onnx/model-builder.js';
import type { Plan } from '../plan/plan-types.js';
import { distributionOf } from '../plan/profile.js';

/** Median wall time (ms) of a session run of a single Neg on one float, with the given session options. */
export async function measureFixedOverhead(options: ort.InferenceSession.SessionOptions, runs = 40): Promise<number> {
  const bytes = new ModelBuilder({ name: 'overhead' }).input('x', 'FP32', [1]).node('Neg', ['x'], ['y']).output('y', 'FP32', [1]).toBytes();
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const feeds = { x: new ort.Tensor('float32', new Float32Array(1), [1]) };
    const times: number[] = [];
    for (let i = 0; i < 5 + runs; i++) {
      const start = performance.now();
      await session.run(feeds);
      if (i >= 5) times.push(performance.now() - start);
    }
    return distributionOf(times).medianMs;
  } finally {
    await session.release();
  }
}

export interface RunBytes {
  /** Bytes of each model input fed in the profiled runs. */
  inputs: Map<string, number>;
  /** Samples in the batch the runs used (crossing sizes are per sample). */
  batch: number;
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** Bytes a full run is fed. */
export function fullRunBytes(bytes: RunBytes): number {
  return sum([...bytes.inputs.values()]);
}

/**
 * Bytes each half of a plan is fed: the head the model inputs, the tail its crossing tensors
 * (raw inputs as fed). NaN where a crossing size is unknown.
 */
export function halfBytes(plan: Plan, bytes: RunBytes): { head: number; tail: number } {
  const crossing = plan.crossing.map((c) => (c.source === 'input' ? (bytes.inputs.get(c.name) ?? NaN) : c.bytesPerSample * bytes.batch));
  return { head: sum([...bytes.inputs.values()]), tail: sum(crossing) };
}
