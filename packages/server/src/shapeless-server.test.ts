/**
 * A server started without input shapes for a model with symbolic image dims (the PP-OCR
 * classifier, x [N, 3, H, W]): it partitions without a probe, its plan digests equal those of a
 * device that probed at any size, and it serves requests of different image sizes for one plan.
 */
import { getPlan, type Partition, type Plan } from '@carboncp/core';
import { partitionWithProbe, readModelFile, seededInputs } from '@carboncp/core/node';
import { MessageType, tensorFromArray, tensorToArray } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type CarboncpServer } from './index.js';
import { CLS_PATH, crossingFor, expectError, expectResponse, inferBody, loadClsPartition, maxAbsDiff, middleSplit, runFullModel, type Feeds } from './testing/fixtures.js';
import { TestClient } from './testing/ws-test-client.js';

let small: Partition; // the device's partition, probed at 48x192
let large: Partition; // another device's, probed at 64x256
let split: Plan;
let server: CarboncpServer;
let client: TestClient;
const logs: string[] = [];

beforeAll(async () => {
  small = await loadClsPartition();
  large = await partitionWithProbe(await readModelFile(CLS_PATH), { inputShapes: { x: [1, 3, 64, 256] } });
  split = middleSplit(small);
  server = await startServer({ models: [CLS_PATH], port: 0, log: (line) => logs.push(line) });
  client = await TestClient.ready(server.url);
});

afterAll(async () => {
  client?.close();
  await server?.close({ drainMs: 1000 });
});

function inputs(dims: number[], seed: number): Feeds {
  return seededInputs(small.model, { x: dims }, seed);
}

/** Sends the plan's crossing tensors for `feeds` and checks the answer against the full model. */
async function expectServed(device: Partition, plan: Plan, feeds: Feeds): Promise<void> {
  const response = expectResponse(await client.infer(inferBody(device, plan, await crossingFor(device, plan, feeds))));
  const full = await runFullModel(device, feeds);
  for (const name of plan.tailOutputs) {
    const got = response.body.outputs.find((o) => o.name === name)!;
    expect(got.shape).toEqual([...full[name].dims]);
    expect(maxAbsDiff(tensorToArray(got) as Float32Array, full[name].data as Float32Array)).toBeLessThan(1e-4);
  }
}

describe('a server started without input shapes', () => {
  it('starts, says once that cut sizes are unknown for the model, and lists the same plan digests as probing devices', async () => {
    expect(logs.filter((line) => line.includes('cut sizes are unknown until input shapes are given'))).toHaveLength(1);
    const served = server.models.get(small.model.name)!;
    expect(served.servable.get(split.id)!.crossing[0].shape).toBeNull();
    const ack = await client.hello();
    if (ack.type !== MessageType.HelloAck) throw new Error('expected a HelloAck');
    const listed = ack.body.models.find((m) => m.name === small.model.name)!.plans;
    for (const device of [small, large]) {
      expect(listed).toEqual(device.plans.filter((p) => p.kind !== 'device').map((p) => ({ id: p.id, digest: p.digest })));
    }
  });

  it('serves a middle split at 48x192 and at 64x256 (same plan id and digest), matching the full model', async () => {
    const largeSplit = getPlan(large, split.id);
    expect(largeSplit.digest).toBe(split.digest);
    expect(largeSplit.crossing[0].shape).not.toEqual(split.crossing[0].shape);
    await expectServed(small, split, inputs([1, 3, 48, 192], 5));
    await expectServed(large, largeSplit, inputs([2, 3, 64, 256], 6));
  });

  it("serves the 'server' plan (the raw input) at both sizes", async () => {
    await expectServed(small, getPlan(small, 'server'), inputs([1, 3, 48, 192], 8));
    await expectServed(large, getPlan(large, 'server'), inputs([1, 3, 64, 256], 9));
  });

  it('still checks what it knows: dtype, and the fixed dims of the declared input', async () => {
    const [crossing] = await crossingFor(small, split, inputs([1, 3, 48, 192], 10));
    const asInt = tensorFromArray(crossing.name, new Int32Array(crossing.data.byteLength / 4), crossing.shape, 'INT32');
    let id = client.sendInfer(inferBody(small, split, [asInt]));
    expect(expectError(await client.answer(id))).toMatchObject({ code: 'CARBONCP_BAD_TENSOR', request_id: id, message: expect.stringMatching(/datatype INT32, expected FP32/) });
    const fourChannels = tensorFromArray('x', new Float32Array(4 * 48 * 192), [1, 4, 48, 192]);
    id = client.sendInfer(inferBody(small, getPlan(small, 'server'), [fourChannels]));
    expect(expectError(await client.answer(id))).toMatchObject({ code: 'CARBONCP_BAD_TENSOR', request_id: id, message: expect.stringMatching(/axis 1 must be 3/) });
  });

  it('a crossing shape the tail cannot take comes back from onnxruntime as CARBONCP_BAD_TENSOR with the request id', async () => {
    const [crossing] = await crossingFor(small, split, inputs([1, 3, 48, 192], 11));
    const [, ...rest] = crossing.shape; // rank 3: no check on the server knows the rank
    const wrongRank = tensorFromArray(crossing.name, new Float32Array(crossing.data.byteLength / 4), rest);
    const id = client.sendInfer(inferBody(small, split, [wrongRank]));
    const error = expectError(await client.answer(id));
    expect(error.code).toBe('CARBONCP_BAD_TENSOR');
    expect(error.request_id).toBe(id);
    expect(error.message).toMatch(new RegExp(`plan '${split.id}': onnxruntime rejected the input tensors \\(${crossing.name.replace(/\./g, '\\.')} FP32 \\[${rest.join(', ')}\\]\\)`));
    // The connection and the tail session are still good.
    await expectServed(small, split, inputs([1, 3, 48, 192], 12));
  });
});
