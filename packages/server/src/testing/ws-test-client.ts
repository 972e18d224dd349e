/**
 * A minimal carboncp client for the server's own tests, built from protocol functions only (the
 * real client lives in @carboncp/device). It keeps every message it receives so that tests can
 * wait for a response by request id, and records how the connection closed.
 */
import {
  MessageType,
  PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  type InferRequestMessage,
  type Message,
} from '@carboncp/protocol';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly received: Message[] = [];
  readonly closed: Promise<Closed>;
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private nextId = 1;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      const message = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { maxPayload: 1 << 30 });
      this.received.push(message);
      const waiter = this.waiters.find((w) => w.match(message));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(message);
      }
    });
  }

  /** `options`: ws's client options on top (`ca` for a wss:// server with a private CA). */
  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 1 << 30, ...options });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Connects and says hello; throws unless the server answers with a HelloAck. */
  static async ready(url: string, token?: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(url, options);
    const answer = await client.hello(token);
    if (answer.type !== MessageType.HelloAck) {
      client.close();
      throw new Error(`expected a HelloAck, got ${MessageType[answer.type]}: ${JSON.stringify(answer.body)}`);
    }
    return client;
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  allocateId(): number {
    return this.nextId++;
  }

  send(message: Message): void {
    this.ws.send(encodeFrame(message));
  }

  /**
   * Sends frames in one socket write (the socket corked around them), so that the server reads
   * them in one chunk, as it does when a client sends faster than the server reads: ws then
   * hands out messages that are views into that one chunk.
   */
  sendBurst(frames: Uint8Array[]): void {
    const socket = (this.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (const frame of frames) this.ws.send(frame, { binary: true });
    socket.uncork();
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** The first message (already received or arriving later) that matches. */
  waitFor(match: (m: Message) => boolean, timeoutMs = 20_000): Promise<Message> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The response or error for a request id. */
  answer(requestId: number): Promise<Message> {
    return this.waitFor(
      (m) => (m.type === MessageType.InferResponse || m.type === MessageType.Error) && m.requestId === requestId,
    );
  }

  hello(token?: string, version = PROTOCOL_VERSION): Promise<Message> {
    this.send({
      type: MessageType.Hello,
      requestId: 0,
      body: { protocol_version: version, client: 'server-test', models: [], ...(token === undefined ? {} : { token }) },
    });
    return this.waitFor((m) => m.type === MessageType.HelloAck || m.type === MessageType.Error);
  }

  /** Sends an infer request and returns its request id. */
  sendInfer(body: InferRequestMessage, requestId = this.allocateId()): number {
    this.send({ type: MessageType.InferRequest, requestId, body });
    return requestId;
  }

  infer(body: InferRequestMessage): Promise<Message> {
    return this.answer(this.sendInfer(body));
  }

  private nextPingId = 0x7000_0000;

  /** Sends a Ping with a request id of its own; resolves with the Pong that echoes that id. */
  async ping(t = 1, requestId = this.nextPingId++): Promise<Message> {
    this.send({ type: MessageType.Ping, requestId, body: { t } });
    return this.waitFor((m) => m.type === MessageType.Pong && m.requestId === requestId);
  }

  close(): void {
    this.ws.close();
  }

  /** Stops reading from the socket (a client that does not read its answers); sends still go out. */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }
}
