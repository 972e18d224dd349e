/**
 * The server serves the model bytes it read at startup, whatever happens to the files later:
 * tail sessions are built lazily, but from those bytes (which the digest covers), never from a
 * re-read. Weights kept in external data files would be read by onnxruntime only then, from
 * files the digest does not cover: core refuses such models when they are read, so the server
 * refuses them at startup.
 */
import { copyFile, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelBuilder, decodeModel, encodeModel, type Partition } from '@carboncp/core';
import { tensorToArray } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './index.js';
import { CLS_INPUT_SHAPES, CLS_NAME, CLS_PATH, clsInputs, crossingFor, expectResponse, inferBody, loadClsPartition, maxAbsDiff, runFullModel } from './testing/fixtures.js';
import { TestClient } from './testing/ws-test-client.js';

let dir: string;
let partition: Partition;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carboncp-model-files-'));
  partition = await loadClsPartition();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('model files on disk after startup', () => {
  it('a model file replaced, then deleted, changes nothing: tails opened later come from the bytes read at startup', async () => {
    const path = join(dir, `${CLS_NAME}.onnx`);
    await copyFile(CLS_PATH, path);
    const server = await startServer({ models: [path], inputShapes: CLS_INPUT_SHAPES, port: 0, log: () => undefined });
    try {
      const splits = partition.plans.filter((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head');
      const [before, after] = [splits[1], splits[splits.length - 2]];
      const feeds = clsInputs(partition, 61);
      const expected = (await runFullModel(partition, feeds))[partition.model.outputs[0].name].data as Float32Array;
      const client = await TestClient.connect(server.url);
      await client.hello();
      const first = expectResponse(await client.infer(inferBody(partition, before, await crossingFor(partition, before, feeds))));
      expect(maxAbsDiff(tensorToArray(first.body.outputs[0]) as Float32Array, expected)).toBeLessThan(1e-4);

      // Another model under the same name, then no file at all.
      const other = new ModelBuilder({ name: 'other' }).input('x', 'FP32', ['N', 4]).node('Relu', ['x'], ['y']).output('y', 'FP32', ['N', 4]).toBytes();
      await writeFile(path, other);
      const second = expectResponse(await client.infer(inferBody(partition, after, await crossingFor(partition, after, feeds))));
      await unlink(path);
      const third = expectResponse(await client.infer(inferBody(partition, partition.plans.find((p) => p.id === 'server')!, await crossingFor(partition, partition.plans.find((p) => p.id === 'server')!, feeds))));
      for (const answer of [second, third]) {
        expect(maxAbsDiff(tensorToArray(answer.body.outputs[0]) as Float32Array, expected)).toBeLessThan(1e-4);
      }
      expect(server.models.get(CLS_NAME)!.loaded.digest).toBe(partition.model.digest);
      client.close();
    } finally {
      await server.close({ drainMs: 1000 });
    }
  });

  it('refuses a model whose weights live in external data files, naming the file', async () => {
    const bytes = new ModelBuilder({ name: 'external' })
      .input('i', 'INT64', ['N'])
      .initializer('table', 'FP32', [4], [10, 20, 30, 40])
      .node('Gather', ['table', 'i'], ['y'], { axis: 0 })
      .output('y', 'FP32', ['N'])
      .toBytes();
    const model = decodeModel(bytes);
    const table = model.graph!.initializer[0];
    table.rawData = new Uint8Array(0);
    table.floatData = [];
    table.dataLocation = 1;
    table.externalData = [{ $typeName: 'onnx.StringStringEntryProto', key: 'location', value: 'table.bin' }];
    const path = join(dir, 'external.onnx');
    await writeFile(path, encodeModel(model));
    await writeFile(join(dir, 'table.bin'), new Uint8Array(16));
    const error = await startServer({ models: [path], port: 0, log: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CARBONCP_EXTERNAL_DATA' });
    expect((error as Error).message).toMatch(/external\.onnx.*'table'.*table\.bin/s);
  });
});
