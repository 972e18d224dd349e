import type { DType } from '../onnx/dtype.js';
import type { LoadedModel } from '../model/load-model.js';

export interface CrossingTensor {
  name: string;
  /** Known without a probe for every op with a dtype rule (see shapes/dtype-inference.ts); 'UNKNOWN' otherwise. */
  dtype: DType;
  /**
   * Batch dimension kept symbolic, e.g. ['N', 64, 56, 56]. Other dims are numbers where the
   * model declares them or a probe measured them, and symbolic (the model's dim_param, or '?')
   * where they depend on the request's input shapes. null: the rank is unknown (partitioned
   * without a probe, and the model declares nothing for this tensor). [] is a scalar.
   */
  shape: (number | string)[] | null;
  /** NaN when any dim but the batch is not a number (or the dtype is unknown): the size depends on the request. */
  bytesPerSample: number;
  /** 'input': a raw model input the tail needs; the device sends it as is. */
  source: 'input' | 'head';
}

export interface Plan {
  /** 'device', 'server', or 'split-<k>' (k = compute nodes in the head, in topological order); stable for the same model bytes. */
  id: string;
  kind: 'device' | 'server' | 'split';
  /** What the device sends: the model inputs for 'server', [] for 'device'. */
  crossing: CrossingTensor[];
  /** Sum over crossing; NaN when some crossing size is unknown. */
  bytesPerSample: number;
  /** FLOPs per sample (a multiply-add counts 2); NaN where a needed shape is unknown. */
  headFlops: number;
  tailFlops: number;
  /** Bytes of the initializers (and Constant tensors) each side reads; shared ones count on both. */
  headParamBytes: number;
  tailParamBytes: number;
  /** Graph outputs produced on the device (merged there with the tail's outputs). */
  headOutputs: string[];
  /** Graph outputs the tail produces. */
  tailOutputs: string[];
  /**
   * sha256 hex over the source model digest and the cut's definition (id, crossing names and
   * sources, head/tail outputs): the same for the same model bytes whatever input shapes, probe
   * or none, were used to partition.
   */
  digest: string;
}

export interface PartitionOptions {
  /** Most tensors a cut may send (default 4). */
  maxWidth?: number;
  /** Concrete input shapes, e.g. { x: [1, 3, 48, 192] }; checked against the model. */
  inputShapes?: Record<string, number[]>;
  /** Shapes and dtypes from a probe run (see probeShapes in @carboncp/core/node). */
  valueShapes?: Map<string, number[]>;
  valueTypes?: Map<string, DType>;
  /** Values whose leading dimension is the batch, as found by the probe. */
  batchValues?: Set<string>;
}

export interface Partition {
  model: LoadedModel;
  /** Ordered 'server', split-1, split-2, ..., 'device'. */
  plans: Plan[];
}

export const DEFAULT_MAX_WIDTH = 4;
