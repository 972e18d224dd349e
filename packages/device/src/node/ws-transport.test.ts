import net from 'node:net';
import { decodeFrameFragments, encodeFrameParts, MessageType, sendFrameParts, tensorFromArray, tensorToArray, type Message } from '@carboncp/protocol';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WsTransport } from './ws-transport.js';

function part(k: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (k * 37 + i) & 0xff);
}

async function listening(): Promise<{ wss: WebSocketServer; port: number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const close = async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  };
  return { wss, port: (wss.address() as { port: number }).port, close };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('WsTransport', () => {
  it('delivers a message in the fragments it was sent in: the large tensor is not copied on receipt, every tensor is 8-byte aligned', async () => {
    const { wss, port, close } = await listening();
    const big = Float32Array.from({ length: 150_528 }, (_, i) => Math.sin(i));
    const small = BigInt64Array.from({ length: 3 }, (_, i) => BigInt(i) * -7n);
    const response: Message = {
      type: MessageType.InferResponse,
      requestId: 9,
      body: {
        model_name: 'm',
        plan_id: 'cut-1',
        outputs: [tensorFromArray('big', big, [1, 3, 224, 224]), tensorFromArray('small', small, [3])],
        parameters: { server_ms: 1, queue_ms: 0, batch_size: 1, execution_provider: 'cpu' },
      },
    };
    // The server's way of sending (sendFrameParts): header, then the large tensor as a fragment of its own.
    wss.on('connection', (ws) => sendFrameParts(ws, encodeFrameParts(response)));
    try {
      const delivered = await new Promise<Uint8Array | readonly Uint8Array[]>((resolve) => {
        void new WsTransport().connect(`ws://127.0.0.1:${port}`, { message: resolve, close: () => undefined });
      });
      expect(Array.isArray(delivered)).toBe(true);
      const fragments = delivered as readonly Uint8Array[];
      expect(fragments.map((f) => f.byteLength)).toEqual([expect.any(Number), big.byteLength, small.byteLength]);
      const message = decodeFrameFragments(fragments);
      if (message.type !== MessageType.InferResponse) throw new Error('expected a response');
      const [bigOut, smallOut] = message.body.outputs;
      expect(bigOut.data.buffer).toBe(fragments[1].buffer);
      expect(bigOut.data.byteOffset).toBe(fragments[1].byteOffset);
      for (const tensor of message.body.outputs) expect(tensor.data.byteOffset % 8).toBe(0);
      expect(tensorToArray(bigOut)).toEqual(big);
      expect(tensorToArray(smallOut)).toEqual(small);
    } finally {
      await close();
    }
  });

  it("a request sent with sendParts reaches a receiver with binaryType 'fragments' (as the server has) unjoined: its tensor is decoded in place", async () => {
    const { wss, port, close } = await listening();
    const received = new Promise<Buffer[]>((resolve) =>
      wss.on('connection', (ws) => {
        ws.binaryType = 'fragments';
        ws.on('message', (data: Buffer[]) => resolve(data));
      }),
    );
    try {
      const activation = Float32Array.from({ length: 50_000 }, (_, i) => i / 3);
      const request: Message = {
        type: MessageType.InferRequest,
        requestId: 4,
        body: { model_name: 'm', plan_id: 'cut-1', plan_digest: 'd', model_digest: 'e', inputs: [tensorFromArray('act', activation, [1, 50_000])] },
      };
      const connection = await new WsTransport().connect(`ws://127.0.0.1:${port}`, { message: () => undefined, close: () => undefined });
      connection.sendParts!(encodeFrameParts(request));
      const fragments = await received;
      expect(fragments).toHaveLength(2);
      const message = decodeFrameFragments(fragments);
      if (message.type !== MessageType.InferRequest) throw new Error('expected a request');
      const [input] = message.body.inputs;
      expect(input.data.buffer).toBe(fragments[1].buffer);
      expect(input.data.byteOffset % 8).toBe(0);
      expect(tensorToArray(input)).toEqual(activation);
      connection.close(1000, 'done');
    } finally {
      await close();
    }
  });

  it('hands the fragments of one message to the socket corked, so that they leave in one write', async () => {
    const { wss, port, close } = await listening();
    const received = new Promise<Buffer>((resolve) => wss.on('connection', (ws) => ws.on('message', (data: Buffer) => resolve(data))));
    try {
      const connection = await new WsTransport().connect(`ws://127.0.0.1:${port}`, { message: () => undefined, close: () => undefined });
      const writev = vi.spyOn(net.Socket.prototype as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
      const write = vi.spyOn(net.Socket.prototype as unknown as { _write: (...args: unknown[]) => void }, '_write');
      const parts = [part(0, 300), part(1, 200_000)];
      connection.sendParts!(parts);
      expect(write).not.toHaveBeenCalled();
      expect(writev).toHaveBeenCalledTimes(1);
      expect((writev.mock.calls[0][0] as unknown[]).length).toBe(2); // two masked ws frames, one syscall
      expect(Buffer.compare(await received, Buffer.concat(parts))).toBe(0);
      connection.close(1000, 'done');
    } finally {
      await close();
    }
  });

  it('sends parts as one message (fragments for large parts), in order with whole sends', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const { port } = wss.address() as { port: number };
    const received: Buffer[] = [];
    const allReceived = new Promise<void>((resolve) => {
      wss.on('connection', (ws) =>
        ws.on('message', (data: Buffer) => {
          received.push(data);
          if (received.length === 3) resolve();
        }),
      );
    });
    const connection = await new WsTransport().connect(`ws://127.0.0.1:${port}`, { message: () => undefined, close: () => undefined });
    try {
      const tensor = part(1, 200_000);
      const snapshot = Array.from(tensor);
      const large = [part(0, 300), tensor];
      const small = [part(2, 40), part(3, 1000)];
      connection.sendParts!(large);
      connection.send(part(4, 7));
      connection.sendParts!(small);
      await allReceived;
      expect(received.map((m) => m.length)).toEqual([200_300, 7, 1040]);
      expect(Buffer.compare(received[0], Buffer.concat(large))).toBe(0);
      expect(Buffer.compare(received[2], Buffer.concat(small))).toBe(0);
      // ws masks client frames: into its own buffer, never the caller's tensor.
      expect(Array.from(tensor)).toEqual(snapshot);
    } finally {
      connection.close(1000, 'done');
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('says why ws closed an open socket: a message over maxPayload', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const { port } = wss.address() as { port: number };
    wss.on('connection', (ws) => ws.send(new Uint8Array(5000)));
    try {
      const closed = new Promise<{ code: number; reason: string }>((resolve) => {
        void new WsTransport({ maxPayload: 1000 }).connect(`ws://127.0.0.1:${port}`, {
          message: () => undefined,
          close: (code, reason) => resolve({ code, reason }),
        });
      });
      // ws drops the socket (1006) after telling the server 1009; the reason says why either way.
      const { reason } = await closed;
      expect(reason).toMatch(/the server sent a message larger than this client's maxPayload of 1000 bytes/);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('a message handler that throws closes the socket (1011) instead of crashing the process', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const { port } = wss.address() as { port: number };
    const serverSaw = new Promise<number>((resolve) => wss.on('connection', (ws) => ws.on('close', (code) => resolve(code))));
    wss.on('connection', (ws) => ws.send(new Uint8Array(8)));
    try {
      const closed = new Promise<string>((resolve) => {
        void new WsTransport().connect(`ws://127.0.0.1:${port}`, {
          message: () => {
            throw new Error('handler bug');
          },
          close: (_code, reason) => resolve(reason),
        });
      });
      expect(await closed).toMatch(/the client failed handling a message: handler bug/);
      expect(await serverSaw).toBe(1011);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
