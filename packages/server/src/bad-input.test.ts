import type { Partition, Plan } from '@carboncp/core';
import { FRAME_MAGIC, MessageType, encodeFrame, tensorFromArray, tensorToArray, type InferRequestMessage, type WireTensor } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type CarboncpServer } from './index.js';
import {
  CLS_INPUT_SHAPES,
  CLS_PATH,
  clsInputs,
  crossingFor,
  expectError,
  expectResponse,
  inferBody,
  loadClsPartition,
  middleSplit,
} from './testing/fixtures.js';
import { writeFragileModels } from './testing/fragile-model.js';
import { TestClient } from './testing/ws-test-client.js';

const TOKEN = 'test-token-7f3a';
const MAX_PAYLOAD = 400_000;

let partition: Partition;
let split: Plan;
let splitInputs: WireTensor[];
let server: CarboncpServer;
let witness: TestClient;
let fragile: Awaited<ReturnType<typeof writeFragileModels>>;

// Every test runs against both executors: tails on the event loop, and on a worker thread.
describe.each(['main', 'worker'] as const)('executor %s', (executor) => {
  beforeAll(async () => {
    partition = await loadClsPartition();
    split = middleSplit(partition);
    splitInputs = await crossingFor(partition, split, clsInputs(partition, 11));
    fragile = await writeFragileModels();
    server = await startServer({
      models: [CLS_PATH, fragile.fragilePath, fragile.lookupPath],
      executor,
      inputShapes: CLS_INPUT_SHAPES,
      port: 0,
      token: TOKEN,
      maxPayload: MAX_PAYLOAD,
      log: () => undefined,
    });
    witness = await TestClient.connect(server.url);
    expect((await witness.hello(TOKEN)).type).toBe(MessageType.HelloAck);
  });

  afterAll(async () => {
    await server?.close({ drainMs: 1000 });
    await fragile?.cleanup();
  });

  /** The other client still gets correct answers after each bad input. */
  async function witnessIsServed(): Promise<void> {
    const response = expectResponse(await witness.infer(inferBody(partition, split, splitInputs)));
    expect(response.body.outputs.map((o) => o.name)).toEqual(split.tailOutputs);
  }

  const readyClient = () => TestClient.ready(server.url, TOKEN);

  /** A client whose connection must be closed by the server with an error first. */
  async function expectClosedWith(client: TestClient, code: string, closeCode: number): Promise<string> {
    const error = expectError(await client.waitFor((m) => m.type === MessageType.Error));
    expect(error.code).toBe(code);
    const closed = await client.closed;
    expect(closed.code).toBe(closeCode);
    return error.message;
  }

  describe('auth', () => {
    it('refuses a hello without a token: CARBONCP_UNAUTHORIZED, close 1008', async () => {
      const client = await TestClient.connect(server.url);
      await client.hello();
      expect(await expectClosedWith(client, 'CARBONCP_UNAUTHORIZED', 1008)).toMatch(/requires a token/);
      await witnessIsServed();
    });

    it('refuses a wrong token: CARBONCP_UNAUTHORIZED, close 1008', async () => {
      const client = await TestClient.connect(server.url);
      await client.hello('wrong-token');
      expect(await expectClosedWith(client, 'CARBONCP_UNAUTHORIZED', 1008)).toMatch(/token in the hello is wrong/);
      await witnessIsServed();
    });

    it('refuses an infer request before the hello: CARBONCP_UNAUTHORIZED, close 1008', async () => {
      const client = await TestClient.connect(server.url);
      client.sendInfer(inferBody(partition, split, splitInputs));
      expect(await expectClosedWith(client, 'CARBONCP_UNAUTHORIZED', 1008)).toMatch(/before the hello/);
    });
  });

  describe('connection-level bad input closes that connection only', () => {
    it('garbage bytes: CARBONCP_BAD_FRAME, close 1002', async () => {
      const client = await readyClient();
      client.sendRaw(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff));
      expect(await expectClosedWith(client, 'CARBONCP_BAD_FRAME', 1002)).toMatch(/bad magic/);
      await witnessIsServed();
    });

    it('a text message: CARBONCP_BAD_FRAME, close 1002', async () => {
      const client = await readyClient();
      client.sendRaw('{"hello": true}');
      expect(await expectClosedWith(client, 'CARBONCP_BAD_FRAME', 1002)).toMatch(/text message/);
      await witnessIsServed();
    });

    it('a frame of another protocol version: CARBONCP_UNSUPPORTED_VERSION, close 1002', async () => {
      const client = await readyClient();
      const frame = encodeFrame({ type: MessageType.Ping, requestId: 0, body: { t: 1 } });
      frame[4] = 9;
      client.sendRaw(frame);
      expect(await expectClosedWith(client, 'CARBONCP_UNSUPPORTED_VERSION', 1002)).toMatch(/version 9/);
      await witnessIsServed();
    });

    it('a hello asking for another protocol version: CARBONCP_UNSUPPORTED_VERSION, close 1002', async () => {
      const client = await TestClient.connect(server.url);
      await client.hello(TOKEN, 2);
      expect(await expectClosedWith(client, 'CARBONCP_UNSUPPORTED_VERSION', 1002)).toMatch(/version 2/);
    });

    it('a frame over max-payload but within ws slack: CARBONCP_PAYLOAD_TOO_LARGE with the request id, close 1009', async () => {
      const client = await readyClient();
      const big = tensorFromArray(splitInputs[0].name, new Float32Array(MAX_PAYLOAD / 4), [MAX_PAYLOAD / 4]);
      const id = client.sendInfer(inferBody(partition, split, [big]));
      const error = expectError(await client.answer(id));
      expect(error.code).toBe('CARBONCP_PAYLOAD_TOO_LARGE');
      expect(error.request_id).toBe(id);
      expect((await client.closed).code).toBe(1009);
      await witnessIsServed();
    });

    it('a message far over ws maxPayload: close 1009', async () => {
      const client = await readyClient();
      client.sendRaw(new Uint8Array(MAX_PAYLOAD * 2));
      expect((await client.closed).code).toBe(1009);
      await witnessIsServed();
    });
  });

  describe('request-level bad input gets an error frame with the request id; the connection stays open', () => {
    let client: TestClient;
    beforeAll(async () => {
      client = await readyClient();
    });

    async function expectRequestError(body: Parameters<TestClient['infer']>[0], code: string, pattern: RegExp): Promise<void> {
      const id = client.sendInfer(body);
      const error = expectError(await client.answer(id));
      expect(error.code).toBe(code);
      expect(error.request_id).toBe(id);
      expect(error.message).toMatch(pattern);
      // Same connection, next request: still served.
      expectResponse(await client.infer(inferBody(partition, split, splitInputs)));
      await witnessIsServed();
    }

    it('unknown model', () =>
      expectRequestError({ ...inferBody(partition, split, splitInputs), model_name: 'nope' }, 'CARBONCP_UNKNOWN_MODEL', /unknown model 'nope'.*'fragile'/));

    it('unknown plan', () =>
      expectRequestError({ ...inferBody(partition, split, splitInputs), plan_id: 'split-99999' }, 'CARBONCP_UNKNOWN_PLAN', /no plan 'split-99999'/));

    it("the 'device' plan (nothing to serve)", () =>
      expectRequestError({ ...inferBody(partition, split, splitInputs), plan_id: 'device' }, 'CARBONCP_UNKNOWN_PLAN', /entirely on the device/));

    it('wrong model digest', () =>
      expectRequestError({ ...inferBody(partition, split, splitInputs), model_digest: '0'.repeat(64) }, 'CARBONCP_DIGEST_MISMATCH', /model digest/));

    it('wrong plan digest', () =>
      expectRequestError({ ...inferBody(partition, split, splitInputs), plan_digest: 'f'.repeat(64) }, 'CARBONCP_DIGEST_MISMATCH', /plan digest/));

    it('wrong shape', () => {
      const [t] = splitInputs;
      const shape = [...t.shape];
      const last = shape.length - 1;
      shape[last - 1] *= 2;
      shape[last] /= 2; // same byte count, wrong layout
      return expectRequestError(inferBody(partition, split, [{ ...t, shape }]), 'CARBONCP_BAD_TENSOR', /expected \[N, /);
    });

    it('wrong dtype', () => {
      const [t] = splitInputs;
      const asInt = tensorFromArray(t.name, new Int32Array(t.data.byteLength / 4), t.shape, 'INT32');
      return expectRequestError(inferBody(partition, split, [asInt]), 'CARBONCP_BAD_TENSOR', /datatype INT32, expected FP32/);
    });

    it('missing input', () => expectRequestError(inferBody(partition, split, []), 'CARBONCP_BAD_TENSOR', /missing input/));

    it('an extra input', () => {
      const extra = tensorFromArray('surprise', new Float32Array(4), [1, 4]);
      return expectRequestError(inferBody(partition, split, [...splitInputs, extra]), 'CARBONCP_BAD_TENSOR', /unexpected input\(s\) 'surprise'/);
    });

    it('a model name of 100,000 characters: the error quotes it cut short', async () => {
      const id = client.sendInfer({ ...inferBody(partition, split, splitInputs), model_name: 'm'.repeat(100_000) });
      const error = expectError(await client.answer(id));
      expect(error.code).toBe('CARBONCP_UNKNOWN_MODEL');
      expect(error.message).toMatch(/^unknown model 'm{64}\.\.\.' \(100000 characters\); this server has /);
      expect(error.message.length).toBeLessThan(400);
      const plan = expectError(await client.infer({ ...inferBody(partition, split, splitInputs), plan_id: 'p'.repeat(50_000) }));
      expect(plan.message).toMatch(/has no plan 'p{64}\.\.\.' \(50000 characters\)/);
      expect(plan.message.length).toBeLessThan(400);
      await witnessIsServed();
    });

    it('1100 tiny tensors: over the per-message limit, refused before each is checked', async () => {
      // Written by hand: the encoder refuses to write such a frame.
      const inputs = Array.from({ length: 1100 }, (_, i) => ({ name: `t${i}`, datatype: 'UINT8', shape: [1], parameters: { binary_data_size: 1 } }));
      const { inputs: _, ...rest } = inferBody(partition, split, []);
      const json = new TextEncoder().encode(JSON.stringify({ ...rest, inputs }));
      const frame = new Uint8Array(16 + json.length + inputs.length);
      const view = new DataView(frame.buffer);
      view.setUint32(0, FRAME_MAGIC, true);
      frame[4] = 1;
      frame[5] = MessageType.InferRequest;
      view.setUint32(8, 4545, true);
      view.setUint32(12, json.length, true);
      frame.set(json, 16);
      client.sendRaw(frame);
      const error = expectError(await client.answer(4545));
      expect(error.code).toBe('CARBONCP_BAD_TENSOR');
      expect(error.message).toBe('infer request.inputs lists 1100 tensors, over the limit of 1024 tensors per message');
      expectResponse(await client.infer(inferBody(partition, split, splitInputs)));
      await witnessIsServed();
    });

    it('40 unexpected tensors: the error names a few of them', async () => {
      const extra = Array.from({ length: 40 }, (_, i) => tensorFromArray(`extra${i}`, new Uint8Array(1), [1]));
      return expectRequestError(
        inferBody(partition, split, [...splitInputs, ...extra]),
        'CARBONCP_BAD_TENSOR',
        /unexpected input\(s\) 'extra0', 'extra1', .*'extra7' and 32 more; this plan's tail takes/,
      );
    });

    it('BOOL bytes other than 0 and 1', async () => {
      const flag = tensorFromArray('flag', Uint8Array.from([1, 0]), [2], 'BOOL');
      const frame = encodeFrame({ type: MessageType.InferRequest, requestId: 4343, body: inferBody(partition, split, [...splitInputs, flag]) });
      frame[frame.length - 1] = 7;
      client.sendRaw(frame);
      const error = expectError(await client.answer(4343));
      expect(error.code).toBe('CARBONCP_BAD_TENSOR');
      expect(error.message).toMatch(/tensor "flag" is BOOL, but byte 1 of its data is 7/);
      expectResponse(await client.infer(inferBody(partition, split, splitInputs)));
    });

    it('an HTTP path that is not valid percent-encoding: 400, not 500', async () => {
      const response = await fetch(`${server.httpUrl}/v2/models/%E0%A4%A`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(/not valid percent-encoding/);
      await witnessIsServed();
    });

    it('a frame with a broken JSON header but an intact fixed header', async () => {
      const frame = encodeFrame({ type: MessageType.InferRequest, requestId: 4242, body: inferBody(partition, split, splitInputs) });
      frame[16] = 0x7b; // '{'
      frame[17] = 0x7b; // '{{' is not JSON
      expect(frame[0] | (frame[1] << 8) | (frame[2] << 16) | (frame[3] << 24)).toBe(FRAME_MAGIC | 0);
      client.sendRaw(frame);
      const error = expectError(await client.answer(4242));
      expect(error.code).toBe('CARBONCP_BAD_FRAME');
      expect(error.request_id).toBe(4242);
      expectResponse(await client.infer(inferBody(partition, split, splitInputs)));
    });

    /** The first split of a served model whose tail reads a head output. */
    function headSplit(name: string): { body: (x: WireTensor) => InferRequestMessage; crossing: string } {
      const model = server.models.get(name);
      expect(model, name).toBeDefined();
      const plan = [...model!.servable.values()].find((p) => p.kind === 'split' && p.crossing[0]?.source === 'head');
      expect(plan, `${name} split plan`).toBeDefined();
      return {
        crossing: plan!.crossing[0].name,
        body: (x) => ({ model_name: name, plan_id: plan!.id, plan_digest: plan!.digest, model_digest: model!.loaded.digest, inputs: [x] }),
      };
    }

    it('a shape onnxruntime rejects inside the tail: CARBONCP_BAD_TENSOR with its message, server keeps serving', async () => {
      const { body, crossing } = headSplit('fragile');
      // [2, 4] passes the crossing check ([N, 4]); the tail's Reshape to [1, 4] refuses it.
      const id = client.sendInfer(body(tensorFromArray(crossing, Float32Array.from([1, -2, 3, -4, 5, -6, 7, -8]), [2, 4])));
      const error = expectError(await client.answer(id));
      expect(error.code).toBe('CARBONCP_BAD_TENSOR');
      expect(error.request_id).toBe(id);
      expect(error.message).toMatch(/onnxruntime rejected the input tensors \(r FP32 \[2, 4\]\).*cannot be reshaped to the requested shape/s);
      // Batch size 1 is what the Reshape accepts: the same tail then answers.
      // The tail here is the Reshape alone (the head ran Relu): it returns the crossing values.
      const ok = expectResponse(await client.infer(body(tensorFromArray(crossing, Float32Array.from([1, 2, 3, 4]), [1, 4]))));
      expect(ok.body.outputs[0].shape).toEqual([1, 4]);
      expect(Array.from(tensorToArray(ok.body.outputs[0]) as Float32Array)).toEqual([1, 2, 3, 4]);
      await witnessIsServed();
    });

    it('a tail that fails in onnxruntime for another reason: CARBONCP_INTERNAL with its message, server keeps serving', async () => {
      const { body, crossing } = headSplit('lookup');
      const id = client.sendInfer(body(tensorFromArray(crossing, BigInt64Array.from([1n, 7n]), [2], 'INT64')));
      const error = expectError(await client.answer(id));
      expect(error.code).toBe('CARBONCP_INTERNAL');
      expect(error.request_id).toBe(id);
      expect(error.message).toMatch(/failed in onnxruntime.*out of data bounds/s);
      const ok = expectResponse(await client.infer(body(tensorFromArray(crossing, BigInt64Array.from([3n, 0n]), [2], 'INT64'))));
      expect(Array.from(tensorToArray(ok.body.outputs[0]) as Float32Array)).toEqual([40, 10]);
      await witnessIsServed();
    });
  });
});
