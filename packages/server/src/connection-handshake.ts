/**
 * The hello of one WebSocket client: protocol version, shutdown, token (compared in constant
 * time), and the HelloAck that tells the client what this server serves. Pure functions: the
 * connection sends what they return.
 */
import { CarboncpError, CloseCode, ErrorCode, MessageType, PROTOCOL_VERSION, type HelloMessage, type Message, type ModelRef } from '@carboncp/protocol';
import { SERVER_NAME, SERVER_VERSION } from './http-routes.js';
import type { ServedModel } from './model-registry.js';
import { tokenMatches } from './token.js';

export interface HandshakeContext {
  token: string | undefined;
  maxPayload: number;
  maxQueue: number;
  models: ReadonlyMap<string, ServedModel>;
  executionProvider: () => string;
  shuttingDown: () => boolean;
}

/** An error that ends the connection: the frame to send, then the close code. */
export interface Refusal {
  error: CarboncpError;
  closeCode: number;
}

/** Why a hello is refused, or undefined when the client is in. */
export function checkHello(hello: HelloMessage, ctx: HandshakeContext): Refusal | undefined {
  if (hello.protocol_version !== PROTOCOL_VERSION) {
    return {
      error: new CarboncpError(
        ErrorCode.UNSUPPORTED_VERSION,
        `hello asks for protocol version ${String(hello.protocol_version)}; this server speaks version ${PROTOCOL_VERSION}`,
      ),
      closeCode: CloseCode.PROTOCOL_ERROR,
    };
  }
  if (ctx.shuttingDown()) {
    return {
      error: new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down and accepts no new clients; reconnect to another server or retry later'),
      closeCode: CloseCode.GOING_AWAY,
    };
  }
  const expected = ctx.token;
  if (expected === undefined) return undefined;
  const given = hello.token;
  if (typeof given !== 'string' || given.length === 0) {
    return { error: new CarboncpError(ErrorCode.UNAUTHORIZED, 'this server requires a token, and the hello carries none'), closeCode: CloseCode.POLICY_VIOLATION };
  }
  if (!tokenMatches(given, expected)) {
    return { error: new CarboncpError(ErrorCode.UNAUTHORIZED, 'the token in the hello is wrong'), closeCode: CloseCode.POLICY_VIOLATION };
  }
  return undefined;
}

/** A message other than a hello that came before it. */
export function beforeHello(what: string, tokenRequired: boolean): Refusal {
  return tokenRequired
    ? {
        error: new CarboncpError(ErrorCode.UNAUTHORIZED, `${what} arrived before the hello; this server requires a token in the hello`),
        closeCode: CloseCode.POLICY_VIOLATION,
      }
    : { error: new CarboncpError(ErrorCode.BAD_FRAME, `${what} arrived before the hello; send a Hello message first`), closeCode: CloseCode.PROTOCOL_ERROR };
}

/** No hello within helloTimeoutMs of connecting. */
export function noHello(timeoutMs: number, tokenRequired: boolean): Refusal {
  const code = tokenRequired ? ErrorCode.UNAUTHORIZED : ErrorCode.BAD_FRAME;
  return {
    error: new CarboncpError(code, `no hello within ${timeoutMs} ms of connecting`),
    closeCode: tokenRequired ? CloseCode.POLICY_VIOLATION : CloseCode.PROTOCOL_ERROR,
  };
}

export function helloAck(ctx: HandshakeContext): Message {
  const models: ModelRef[] = [...ctx.models.values()].map((model) => ({
    name: model.name,
    digest: model.loaded.digest,
    plans: [...model.servable.values()].map((plan) => ({ id: plan.id, digest: plan.digest })),
  }));
  return {
    type: MessageType.HelloAck,
    requestId: 0,
    body: {
      protocol_version: PROTOCOL_VERSION,
      server: `${SERVER_NAME}-server/${SERVER_VERSION}`,
      execution_provider: ctx.executionProvider(),
      models,
      limits: { max_payload: ctx.maxPayload, max_queue: ctx.maxQueue },
    },
  };
}
