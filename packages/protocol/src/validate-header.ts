import { bytesPerElement, describe, describeShape, elementCount, isDataType, DATATYPES } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';
import { DEFAULT_MAX_TENSORS } from './limits.js';
import { COMPRESSIONS, MessageType, isCompression, type TensorParameters } from './messages.js';

/** A tensor as it appears in the JSON header: everything but the bytes. */
export interface TensorHeader {
  name: string;
  datatype: (typeof DATATYPES)[number];
  shape: number[];
  parameters: TensorParameters & { binary_data_size: number };
}

export interface ValidatedHeader {
  /** The header object itself, now known to match the message type's shape. */
  body: Record<string, unknown>;
  /** The tensors whose bytes follow the header, in order (empty for messages without tensors). */
  tensors: TensorHeader[];
  /** Sum of their binary_data_size. */
  tensorBytes: number;
}

type Json = Record<string, unknown>;
type Fail = (message: string) => never;

const U32_MAX = 0xffffffff;

function badFrame(message: string): never {
  throw new CarboncpError(ErrorCode.BAD_FRAME, message);
}

function badTensor(message: string): never {
  throw new CarboncpError(ErrorCode.BAD_TENSOR, message);
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function object(value: unknown, path: string, fail: Fail = badFrame): Json {
  if (!isPlainObject(value)) fail(`${path} must be an object, got ${kindOf(value)}`);
  return value;
}

function string(o: Json, key: string, path: string, { optional = false, nonEmpty = true } = {}, fail: Fail = badFrame): void {
  const value = o[key];
  if (value === undefined && optional) return;
  if (typeof value !== 'string') fail(`${path}.${key} must be a string, got ${describe(value)}`);
  if (nonEmpty && value.length === 0) fail(`${path}.${key} must not be empty`);
}

interface NumberRule {
  optional?: boolean;
  integer?: boolean;
  min?: number;
  max?: number;
  /** Whether min itself is excluded. */
  exclusiveMin?: boolean;
}

function number(o: Json, key: string, path: string, rule: NumberRule = {}, fail: Fail = badFrame): void {
  const value = o[key];
  if (value === undefined && rule.optional) return;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isSafeInteger(value)) &&
    (rule.min === undefined || (rule.exclusiveMin ? value > rule.min : value >= rule.min)) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) {
    const kind = rule.integer ? 'an integer' : 'a finite number';
    const bound =
      rule.min !== undefined && rule.max !== undefined
        ? ` in ${rule.min}..${rule.max}`
        : rule.min !== undefined
          ? rule.exclusiveMin
            ? ` > ${rule.min}`
            : ` >= ${rule.min}`
          : '';
    const wanted = kind + bound;
    fail(`${path}.${key} must be ${wanted}, got ${describe(value)}`);
  }
}

function array(o: Json, key: string, path: string, { optional = false } = {}, fail: Fail = badFrame): unknown[] | undefined {
  const value = o[key];
  if (value === undefined && optional) return undefined;
  if (!Array.isArray(value)) fail(`${path}.${key} must be an array, got ${describe(value)}`);
  return value;
}

function modelRefs(o: Json, path: string): void {
  const models = array(o, 'models', path) ?? [];
  models.forEach((entry, i) => {
    const at = `${path}.models[${i}]`;
    const model = object(entry, at);
    string(model, 'name', at);
    string(model, 'digest', at);
    const plans = array(model, 'plans', at, { optional: true });
    plans?.forEach((p, j) => {
      const planAt = `${at}.plans[${j}]`;
      const plan = object(p, planAt);
      string(plan, 'id', planAt);
      string(plan, 'digest', planAt);
    });
  });
}

const QUANTIZED_RANGE: Readonly<Record<string, [number, number]>> = { INT8: [-128, 127], UINT8: [0, 255] };

/** Validates one tensor header; returns its byte size. */
export function validateTensorHeader(value: unknown, path: string): TensorHeader {
  const t = object(value, path, badTensor);
  string(t, 'name', path, {}, badTensor);
  const at = `${path} (${describe(t.name)})`;
  if (!isDataType(t.datatype)) {
    badTensor(`${at}.datatype must be one of ${DATATYPES.join(', ')}, got ${describe(t.datatype)}`);
  }
  const count = elementCount(t.shape, at);
  const parameters = object(t.parameters, `${at}.parameters`, badTensor);
  number(parameters, 'binary_data_size', `${at}.parameters`, { integer: true, min: 0 }, badTensor);
  const size = parameters.binary_data_size as number;
  const elementSize = bytesPerElement(t.datatype);
  // count * elementSize can leave the safe range even when count is safe; compare without the product.
  if (size / elementSize !== count) {
    badTensor(
      `${at}: binary_data_size is ${size} bytes, but shape ${describeShape(t.shape as number[])} of ${t.datatype} ` +
        `needs ${count} x ${elementSize} = ${count * elementSize} bytes`,
    );
  }
  number(parameters, 'scale', `${at}.parameters`, { optional: true, min: 0 }, badTensor);
  const range = QUANTIZED_RANGE[t.datatype];
  number(
    parameters,
    'zero_point',
    `${at}.parameters`,
    range ? { optional: true, integer: true, min: range[0], max: range[1] } : { optional: true },
    badTensor,
  );
  const original = parameters.original_datatype;
  if (original !== undefined) {
    if (!isDataType(original)) {
      badTensor(`${at}.parameters.original_datatype must be one of ${DATATYPES.join(', ')}, got ${describe(original)}`);
    }
    const compressed =
      t.datatype === 'FP16' || (range !== undefined && parameters.scale !== undefined && parameters.zero_point !== undefined);
    if (!compressed) {
      badTensor(
        `${at}.parameters.original_datatype is ${original}, but a ${t.datatype} tensor` +
          `${range ? ' without scale and zero_point' : ''} is not a compressed form of it`,
      );
    }
  }
  return t as unknown as TensorHeader;
}

function tensorList(o: Json, key: string, path: string, maxTensors: number): TensorHeader[] {
  const list = array(o, key, path) ?? [];
  // Before validating any entry: a hostile header may list thousands of tiny tensors.
  if (list.length > maxTensors) {
    badTensor(`${path}.${key} lists ${list.length} tensors, over the limit of ${maxTensors} tensors per message`);
  }
  const names = new Set<string>();
  return list.map((entry, i) => {
    const tensor = validateTensorHeader(entry, `${key}[${i}]`);
    if (names.has(tensor.name)) badTensor(`${key}[${i}]: tensor name ${describe(tensor.name)} appears twice`);
    names.add(tensor.name);
    return tensor;
  });
}

function inferRequest(o: Json, maxTensors: number): TensorHeader[] {
  const path = 'infer request';
  string(o, 'id', path, { optional: true, nonEmpty: false });
  for (const key of ['model_name', 'plan_id', 'plan_digest', 'model_digest']) string(o, key, path);
  const tensors = tensorList(o, 'inputs', path, maxTensors);
  array(o, 'outputs', path, { optional: true })?.forEach((entry, i) => {
    string(object(entry, `${path}.outputs[${i}]`), 'name', `${path}.outputs[${i}]`);
  });
  if (o.parameters !== undefined) {
    const parameters = object(o.parameters, `${path}.parameters`);
    const compression = parameters.compression;
    if (compression !== undefined && !isCompression(compression)) {
      badFrame(`${path}.parameters.compression must be one of ${COMPRESSIONS.join(', ')}, got ${describe(compression)}`);
    }
    number(parameters, 'timeout_ms', `${path}.parameters`, { optional: true, min: 0, exclusiveMin: true });
  }
  return tensors;
}

function inferResponse(o: Json, maxTensors: number): TensorHeader[] {
  const path = 'infer response';
  string(o, 'id', path, { optional: true, nonEmpty: false });
  string(o, 'model_name', path);
  string(o, 'plan_id', path);
  const tensors = tensorList(o, 'outputs', path, maxTensors);
  const parameters = object(o.parameters, `${path}.parameters`);
  number(parameters, 'server_ms', `${path}.parameters`, { min: 0 });
  number(parameters, 'queue_ms', `${path}.parameters`, { min: 0 });
  number(parameters, 'batch_size', `${path}.parameters`, { integer: true, min: 1 });
  string(parameters, 'execution_provider', `${path}.parameters`);
  // Energy and carbon of the server's side, optional (servers with no power figure send none).
  number(parameters, 'energy_j', `${path}.parameters`, { optional: true, min: 0 });
  number(parameters, 'carbon_g', `${path}.parameters`, { optional: true, min: 0 });
  if (parameters.energy_kind !== undefined && parameters.energy_kind !== 'measured' && parameters.energy_kind !== 'estimated') {
    badFrame(`${path}.parameters.energy_kind must be 'measured' or 'estimated', got ${describe(parameters.energy_kind)}`);
  }
  string(parameters, 'energy_source', `${path}.parameters`, { optional: true });
  if (parameters.carbon_intensity !== undefined) carbonIntensity(parameters.carbon_intensity, `${path}.parameters.carbon_intensity`);
  return tensors;
}

function carbonIntensity(value: unknown, path: string): void {
  const carbon = object(value, path);
  number(carbon, 'value_g_per_kwh', path, { min: 0 });
  string(carbon, 'source', path);
}

function validateBody(type: MessageType, o: Json, maxTensors: number): TensorHeader[] {
  switch (type) {
    case MessageType.Hello:
      number(o, 'protocol_version', 'hello', { integer: true, min: 1 });
      string(o, 'client', 'hello');
      string(o, 'token', 'hello', { optional: true, nonEmpty: false });
      modelRefs(o, 'hello');
      return [];
    case MessageType.HelloAck: {
      number(o, 'protocol_version', 'hello ack', { integer: true, min: 1 });
      string(o, 'server', 'hello ack');
      string(o, 'execution_provider', 'hello ack');
      modelRefs(o, 'hello ack');
      const limits = object(o.limits, 'hello ack.limits');
      number(limits, 'max_payload', 'hello ack.limits', { integer: true, min: 1 });
      number(limits, 'max_queue', 'hello ack.limits', { integer: true, min: 0 });
      return [];
    }
    case MessageType.InferRequest:
      return inferRequest(o, maxTensors);
    case MessageType.InferResponse:
      return inferResponse(o, maxTensors);
    case MessageType.Error:
      string(o, 'code', 'error');
      string(o, 'message', 'error', { nonEmpty: false });
      number(o, 'request_id', 'error', { optional: true, integer: true, min: 0, max: U32_MAX });
      return [];
    case MessageType.Ping:
      number(o, 't', 'ping');
      return [];
    case MessageType.Pong: {
      number(o, 't', 'pong');
      number(o, 'queue_depth', 'pong', { integer: true, min: 0 });
      number(o, 'in_flight', 'pong', { integer: true, min: 0 });
      const tail = object(o.tail_ms, 'pong.tail_ms');
      for (const plan of Object.keys(tail)) number(tail, plan, 'pong.tail_ms', { min: 0 });
      if (o.carbon_intensity !== undefined) carbonIntensity(o.carbon_intensity, 'pong.carbon_intensity');
      if (o.power_cap !== undefined) {
        const cap = object(o.power_cap, 'pong.power_cap');
        number(cap, 'watts', 'pong.power_cap', { min: 0 });
        number(cap, 'default_watts', 'pong.power_cap', { min: 0 });
        number(cap, 'gpus', 'pong.power_cap', { integer: true, min: 1 });
        string(cap, 'source', 'pong.power_cap');
      }
      return [];
    }
    default:
      return badFrame(`unknown message type ${describe(type)}`);
  }
}

/**
 * Checks that a JSON header has the shape its message type requires: required fields present with
 * the right types, tensor shapes of non-negative safe integers whose element count times element
 * size equals binary_data_size, at most `maxTensors` of them (default 1024). Throws CARBONCP_BAD_FRAME for message fields and
 * CARBONCP_BAD_TENSOR for tensor fields, naming the field and the numbers.
 */
export function validateHeader(type: MessageType, header: unknown, options: { maxTensors?: number } = {}): ValidatedHeader {
  if (!isPlainObject(header)) badFrame(`JSON header must be an object, got ${kindOf(header)}`);
  const tensors = validateBody(type, header, options.maxTensors ?? DEFAULT_MAX_TENSORS);
  let tensorBytes = 0;
  for (const t of tensors) tensorBytes += t.parameters.binary_data_size;
  return { body: header, tensors, tensorBytes };
}
