import { describe, expect, it } from 'vitest';
import { sendFrameParts } from '@carboncp/protocol';

// The fragment logic itself is tested in @carboncp/protocol (frame-fragments.test.ts); this is
// the server's side of it over a real ws connection (the protocol package may not import ws).
function part(k: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (k * 31 + i) & 0xff);
}

function concat(parts: readonly Uint8Array[]): number[] {
  return parts.flatMap((p) => Array.from(p));
}

describe('sendFrameParts over a real ws connection (127.0.0.1)', () => {
  it('arrives as one message per frame, in order, with a message sent between frames intact', async () => {
    const { WebSocket, WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const { port } = wss.address() as { port: number };
    const serverSide = new Promise<InstanceType<typeof WebSocket>>((resolve) => wss.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    const received: number[][] = [];
    const allReceived = new Promise<void>((resolve) => {
      client.on('message', (data: Buffer) => {
        received.push(Array.from(data));
        if (received.length === 3) resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    try {
      const ws = await serverSide;
      const first = [part(0, 500), part(1, 90_000), part(2, 3), part(3, 70_000)];
      const between = part(4, 10);
      const second = [part(5, 64), part(6, 65_536)];
      sendFrameParts(ws, first);
      ws.send(between, { binary: true });
      sendFrameParts(ws, second);
      await allReceived;
      expect(received.map((m) => m.length)).toEqual([160_503, 10, 65_600]);
      expect(received[0]).toEqual(concat(first));
      expect(received[1]).toEqual(Array.from(between));
      expect(received[2]).toEqual(concat(second));
    } finally {
      client.terminate();
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
