import { bytesPerElement, dtypeOfElemType, tensorTypeInfo, type DType } from '../onnx/dtype.js';
import type { GraphIndex } from '../graph/graph-index.js';
import { isDefaultDomain } from '../onnx/domains.js';
import { inferOutputDtypes } from './dtype-inference.js';

/** The symbol the partitioner writes for the batch dimension of every tensor it reports. */
export const BATCH_DIM = 'N';

export interface ValueShape {
  dtype: DType;
  /**
   * Batch dimension as BATCH_DIM when the value has one; other symbolic dims as the model names
   * them ('?' for a dim the model leaves unnamed); undefined when the rank is unknown (only the
   * dtype is known). [] is a scalar.
   */
  shape: (number | string)[] | undefined;
}

export interface ShapeSources {
  /** Shapes measured by a probe run (batch dimension included, as the number the probe used). */
  valueShapes?: Map<string, number[]>;
  valueTypes?: Map<string, DType>;
  /** Values whose leading dimension is the batch (known from a probe at two batch sizes). */
  batchValues?: Set<string>;
  /** Concrete input shapes given by the user (already validated). */
  inputShapes?: Record<string, number[]>;
}

/**
 * What is known about every value's type and shape, from the model's own declarations
 * (graph inputs/outputs, value_info, initializer dims) and, taking precedence, a probe run.
 * Shapes are never inferred: a value no source describes has an unknown shape. Element types
 * the sources leave out are propagated through the graph (see dtype-inference.ts), since they
 * are fixed by the model itself.
 */
export class ShapeTable {
  private readonly table = new Map<string, ValueShape>();

  constructor(index: GraphIndex, sources: ShapeSources = {}) {
    for (const [name, init] of index.initializers) {
      this.table.set(name, { dtype: dtypeOfElemType(init.dataType), shape: init.dims.map(Number) });
    }
    for (const info of index.nodes) {
      if (info.node.opType !== 'Constant' || !isDefaultDomain(info.node.domain)) continue;
      const value = info.node.attribute.find((a) => a.name === 'value')?.t;
      if (value && info.outputs[0]) this.table.set(info.outputs[0], { dtype: dtypeOfElemType(value.dataType), shape: value.dims.map(Number) });
    }
    for (const [name, valueInfo] of index.declared) {
      const typed = tensorTypeInfo(valueInfo.type);
      if (!typed) continue;
      const shape = typed.shape?.map((d, i) => (i === 0 && typeof d === 'string' ? BATCH_DIM : d));
      this.table.set(name, { dtype: typed.dtype, shape });
    }
    for (const [name, dims] of Object.entries(sources.inputShapes ?? {})) {
      const known = this.table.get(name);
      const symbolicBatch = typeof known?.shape?.[0] === 'string';
      this.table.set(name, { dtype: known?.dtype ?? 'UNKNOWN', shape: dims.map((d, i) => (i === 0 && symbolicBatch ? BATCH_DIM : d)) });
    }
    for (const [name, dims] of sources.valueShapes ?? []) {
      const dtype = sources.valueTypes?.get(name) ?? this.table.get(name)?.dtype ?? 'UNKNOWN';
      const batched = sources.batchValues?.has(name) ?? false;
      this.table.set(name, { dtype, shape: dims.map((d, i) => (i === 0 && batched ? BATCH_DIM : d)) });
    }
    this.propagateDtypes(index);
  }

  /** Fills in unknown dtypes of node outputs, in topological order so inputs come first. */
  private propagateDtypes(index: GraphIndex): void {
    const dtypeOf = (name: string | undefined): DType | undefined => {
      const dtype = name ? this.table.get(name)?.dtype : undefined;
      return dtype === 'UNKNOWN' ? undefined : dtype;
    };
    for (const info of index.nodes) {
      const node = info.node;
      if (node.output.every((name) => name === '' || dtypeOf(name) !== undefined)) continue;
      const inferred = inferOutputDtypes(node, (i) => dtypeOf(node.input[i]));
      node.output.forEach((name, i) => {
        const dtype = inferred[i];
        if (name === '' || dtype === undefined || dtypeOf(name) !== undefined) return;
        this.table.set(name, { dtype, shape: this.table.get(name)?.shape });
      });
    }
  }

  get(name: string): ValueShape | undefined {
    return this.table.get(name);
  }

  /** Dims for one sample (batch dimension = 1), or undefined when any other dim is unknown. */
  perSample(name: string): number[] | undefined {
    const entry = this.table.get(name);
    if (!entry?.shape) return undefined;
    const dims: number[] = [];
    for (const [i, d] of entry.shape.entries()) {
      if (typeof d === 'number') dims.push(d);
      else if (i === 0 && d === BATCH_DIM) dims.push(1);
      else return undefined;
    }
    return dims;
  }

  /** Bytes of one sample; NaN when the shape or the element size is unknown. */
  bytesPerSample(name: string): number {
    const entry = this.table.get(name);
    const dims = this.perSample(name);
    if (!entry || !dims) return Number.NaN;
    return dims.reduce((product, d) => product * d, 1) * bytesPerElement(entry.dtype);
  }
}
