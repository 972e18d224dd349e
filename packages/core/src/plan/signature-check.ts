/**
 * The one check of tensors against a signature, shared by the device (a caller's inputs, a
 * server's answer) and the server (a request's crossing tensors). Platform-neutral: it reads
 * only names, datatypes, dims and sizes, so each side describes its own tensors.
 */
import { CarboncpError, DATATYPES, ErrorCode, bytesPerElement, type DataType } from '@carboncp/protocol';

/** A declared tensor: a model input or output, or a plan's crossing tensor. */
export interface SignatureTensor {
  name: string;
  /** A wire datatype is compared; anything else ('UNKNOWN', an undeclared type) is not. */
  dtype: string;
  /**
   * Numbers are fixed sizes (a negative one is unknown), strings symbolic ('' and '?' are
   * unknown), null an unknown rank.
   */
  shape: readonly (number | string)[] | null;
}

/** What a side knows of a tensor it holds. */
export interface TensorFacts {
  name: string;
  datatype: string;
  dims: readonly number[];
  /** Elements in its data, when the holder has them as a typed array. */
  elements?: number;
  /** Bytes of its data, when the holder has them as bytes. */
  bytes?: number;
}

/** Sizes that symbolic dimensions took, and which tensor gave them. */
export type SymbolBindings = Map<string, { value: number; from: string }>;

export interface SignatureCheckOptions {
  /** What a tensor is called in messages; default 'input'. */
  noun?: 'input' | 'output';
  /** Prefix of every message, e.g. "model 'resnet18'" or "the server's answer for plan 'split-3'". */
  context?: string;
  /** Says who declares the signature, before the list of its names in the unexpected-tensor message; default 'the signature has'. */
  declaredBy?: string;
  /**
   * Symbolic sizes bound so far (e.g. by the request's inputs, when checking outputs); updated
   * with what these tensors bind. Without it, symbols are bound within this call only.
   */
  symbols?: SymbolBindings;
  /** Require a symbolic dimension to have one size wherever it appears; default true. */
  bindSymbols?: boolean;
}

const isWireType = (dtype: string): dtype is DataType => (DATATYPES as readonly string[]).includes(dtype);
const shapeText = (shape: readonly (number | string)[] | null) => (shape === null ? '(rank unknown)' : `[${shape.join(', ')}]`);
// Names come from the other side (a JSON header of up to a megabyte): quoted and cut short.
const quoted = (name: string) => (name.length <= 64 ? `'${name}'` : `'${name.slice(0, 64)}...' (${name.length} characters)`);
const list = (names: readonly string[]) =>
  names.length <= 8 ? names.map(quoted).join(', ') : `${names.slice(0, 8).map(quoted).join(', ')} and ${names.length - 8} more`;

/**
 * Checks `tensors` against `signature`, throwing CARBONCP_BAD_TENSOR with what was expected: no
 * tensor twice, none unknown, none missing; each with the declared datatype and rank, equal fixed
 * dimensions, non-negative integer dimensions, a symbolic dimension one size wherever it appears
 * (optional), and data (elements or bytes, where given) that fits the shape.
 */
export function checkAgainstSignature(
  signature: readonly SignatureTensor[],
  tensors: readonly TensorFacts[],
  options: SignatureCheckOptions = {},
): void {
  const noun = options.noun ?? 'input';
  const fail = (message: string): never => {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, options.context ? `${options.context}: ${message}` : message);
  };
  const byName = new Map<string, TensorFacts>();
  for (const tensor of tensors) {
    if (byName.has(tensor.name)) fail(`${noun} ${quoted(tensor.name)} is sent twice`);
    byName.set(tensor.name, tensor);
  }
  const declared = new Set(signature.map((entry) => entry.name));
  const extra = [...byName.keys()].filter((name) => !declared.has(name));
  if (extra.length > 0) {
    fail(`unexpected ${noun}(s) ${list(extra)}; ${options.declaredBy ?? 'the signature has'} ${list([...declared])}`);
  }
  const symbols: SymbolBindings = options.symbols ?? new Map();
  const bind = options.bindSymbols ?? true;
  for (const want of signature) {
    const got = byName.get(want.name);
    if (!got) fail(`missing ${noun} ${quoted(want.name)} (${want.dtype} ${shapeText(want.shape)})`);
    const tensor = got as TensorFacts;
    const at = `${noun} ${quoted(want.name)}`;
    if (isWireType(want.dtype) && tensor.datatype !== want.dtype) fail(`${at} has datatype ${tensor.datatype}, expected ${want.dtype}`);
    const dims = tensor.dims;
    if (want.shape !== null && dims.length !== want.shape.length) {
      fail(`${at} has shape ${shapeText(dims)} (rank ${dims.length}), expected ${shapeText(want.shape)} (rank ${want.shape.length})`);
    }
    let elements = 1;
    dims.forEach((size, axis) => {
      if (!Number.isInteger(size) || size < 0) fail(`${at} has an invalid dimension ${size} at axis ${axis}`);
      elements *= size;
      const expected = want.shape?.[axis];
      if (typeof expected === 'number' && expected >= 0 && size !== expected) {
        fail(`${at} has shape ${shapeText(dims)}, expected ${shapeText(want.shape)} (axis ${axis} must be ${expected})`);
      }
      if (bind && typeof expected === 'string' && expected !== '' && expected !== '?') {
        const bound = symbols.get(expected);
        if (bound && bound.value !== size) {
          fail(
            `${at} has shape ${shapeText(dims)}, expected ${shapeText(want.shape)} ` +
              `(axis ${axis} must be ${bound.value}: ${expected} is ${bound.value} in ${bound.from})`,
          );
        }
        if (!bound) symbols.set(expected, { value: size, from: at });
      }
    });
    if (tensor.elements !== undefined && tensor.elements !== elements) {
      fail(`${at} carries ${tensor.elements} elements, but ${tensor.datatype} ${shapeText(dims)} needs ${elements}`);
    }
    if (tensor.bytes !== undefined && isWireType(tensor.datatype)) {
      const needed = elements * bytesPerElement(tensor.datatype);
      if (tensor.bytes !== needed) fail(`${at} carries ${tensor.bytes} bytes, but ${tensor.datatype} ${shapeText(dims)} needs ${needed}`);
    }
  }
}
