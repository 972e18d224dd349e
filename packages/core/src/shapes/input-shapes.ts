import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { LoadedModel } from '../model/load-model.js';
import { tensorTypeInfo } from '../onnx/dtype.js';

/**
 * Whether the model declares no shape at all for an input (LoadedModel lists its shape as [],
 * like a scalar's): its rank, let alone its size, must then come from the user.
 */
function rankUnknown(model: LoadedModel, name: string): boolean {
  const declared = model.model.graph?.input.find((v) => v.name === name);
  return tensorTypeInfo(declared?.type)?.shape === undefined;
}

/**
 * Checks user-given input shapes against the model: the input must exist, the rank must match,
 * fixed dims must agree, and every dim must be a positive integer.
 */
export function validateInputShapes(model: LoadedModel, inputShapes: Record<string, number[]> | undefined): void {
  for (const [name, dims] of Object.entries(inputShapes ?? {})) {
    const input = model.inputs.find((i) => i.name === name);
    if (!input) {
      throw new CarboncpError(
        ErrorCode.UNKNOWN_INPUT,
        `model '${model.name}' has no input '${name}'; its inputs are: ${model.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ')}`,
      );
    }
    if (!Array.isArray(dims) || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new CarboncpError(ErrorCode.BAD_INPUT_SHAPE, `input '${name}': shape [${String(dims)}] must be a list of positive integers`);
    }
    if (input.shape.length > 0 && dims.length !== input.shape.length) {
      throw new CarboncpError(
        ErrorCode.BAD_INPUT_SHAPE,
        `input '${name}' has rank ${input.shape.length} ([${input.shape.join(', ')}]), but the shape given has ${dims.length} dims: [${dims.join(', ')}]`,
      );
    }
    input.shape.forEach((expected, i) => {
      if (typeof expected === 'number' && expected !== dims[i]) {
        throw new CarboncpError(
          ErrorCode.BAD_INPUT_SHAPE,
          `input '${name}' has a fixed size ${expected} in dim ${i} ([${input.shape.join(', ')}]), but the shape given has ${dims[i]}: [${dims.join(', ')}]`,
        );
      }
    });
  }
}

/**
 * The inputs whose size the model leaves open beyond the batch (a symbolic dim after the first,
 * or no shape declared at all) and for which no shape is given: a probe run cannot size them, so
 * without shapes a partition is made without a probe (cut sizes unknown).
 */
export function inputsNeedingShapes(model: LoadedModel, inputShapes: Record<string, number[]> | undefined): string[] {
  return model.inputs
    .filter((input) => !inputShapes?.[input.name] && (input.shape.some((d, i) => typeof d !== 'number' && i > 0) || rankUnknown(model, input.name)))
    .map((input) => input.name);
}

/**
 * Concrete shapes for every input: the user's where given; otherwise the declared shape with a
 * symbolic leading (batch) dim set to 1. Any other symbolic dim needs the user to choose.
 */
export function resolveInputShapes(model: LoadedModel, inputShapes: Record<string, number[]> | undefined): Record<string, number[]> {
  validateInputShapes(model, inputShapes);
  const resolved: Record<string, number[]> = {};
  for (const input of model.inputs) {
    const given = inputShapes?.[input.name];
    if (given) {
      resolved[input.name] = [...given];
      continue;
    }
    if (rankUnknown(model, input.name)) {
      throw new CarboncpError(
        ErrorCode.SHAPE_REQUIRED,
        `input '${input.name}' declares no shape (its rank is unknown); give its size, e.g. --input-shape ${input.name}=1,3,224,224`,
      );
    }
    const open = input.shape.map((d, i) => ({ d, i })).filter(({ d, i }) => typeof d !== 'number' && i > 0);
    if (open.length > 0) {
      const example = input.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : '?')).join(',');
      throw new CarboncpError(
        ErrorCode.SHAPE_REQUIRED,
        `input '${input.name}' has symbolic dims ([${input.shape.join(', ')}]); give its size, e.g. --input-shape ${input.name}=${example}`,
      );
    }
    resolved[input.name] = input.shape.map((d) => (typeof d === 'number' ? d : 1));
  }
  return resolved;
}

/**
 * Parses command-line shape specs `NAME=d0,d1,...` (repeatable) into a record; a malformed spec
 * or a name given twice is CARBONCP_BAD_INPUT_SHAPE.
 */
export function parseInputShapeSpecs(specs: readonly string[]): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const spec of specs) {
    const at = spec.lastIndexOf('=');
    const name = spec.slice(0, at);
    const dims = spec.slice(at + 1).split(/[,x]/).map((d) => d.trim());
    if (at <= 0 || dims.some((d) => !/^\d+$/.test(d)) || dims.some((d) => Number(d) <= 0)) {
      throw new CarboncpError(ErrorCode.BAD_INPUT_SHAPE, `--input-shape '${spec}' is not NAME=DIM,DIM,... with positive integer dims (e.g. x=1,3,224,224)`);
    }
    if (name in shapes) throw new CarboncpError(ErrorCode.BAD_INPUT_SHAPE, `--input-shape names input '${name}' twice`);
    shapes[name] = dims.map(Number);
  }
  return shapes;
}
