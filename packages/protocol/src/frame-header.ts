import { describe } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { CloseCode, ErrorCode } from './error-codes.js';
import { FRAME_MAGIC, MessageType, PROTOCOL_VERSION } from './messages.js';

/** The 16 fixed bytes at the start of every frame, decoded. */
export interface FixedHeader {
  type: MessageType;
  requestId: number;
  /** Byte length of the JSON header, padding included. */
  headerLength: number;
}

/** Byte-wise little-endian reads: incoming buffers may sit at any offset, so no typed views. */
function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'number' && Number.isInteger(value) && value >= MessageType.Hello && value <= MessageType.Pong;
}

function protocolError(code: string, message: string, details?: Record<string, unknown>): CarboncpError {
  return new CarboncpError(code, message, {
    closeCode: CloseCode.PROTOCOL_ERROR,
    ...(details === undefined ? {} : { details }),
  });
}

/** Decodes and checks the fixed header; `bytes` must hold at least FIXED_HEADER_BYTES. */
export function readFixedHeader(bytes: Uint8Array): FixedHeader {
  const magic = readU32(bytes, 0);
  if (magic !== FRAME_MAGIC) {
    throw protocolError(
      ErrorCode.BAD_FRAME,
      `bad magic 0x${magic.toString(16).padStart(8, '0')} at the start of the frame (expected "CCPW", ` +
        `0x${FRAME_MAGIC.toString(16)}); the peer does not speak the carboncp protocol`,
    );
  }
  const version = bytes[4];
  const requestId = readU32(bytes, 8);
  if (version !== PROTOCOL_VERSION) {
    throw protocolError(
      ErrorCode.UNSUPPORTED_VERSION,
      `protocol version ${version} is not supported; this peer speaks version ${PROTOCOL_VERSION}`,
      { requestId, version },
    );
  }
  const type = bytes[5];
  if (!isMessageType(type)) {
    throw protocolError(ErrorCode.BAD_FRAME, `unknown message type ${type} (known: 1..7)`, { requestId });
  }
  const flags = bytes[6] | (bytes[7] << 8);
  if (flags !== 0) {
    throw protocolError(ErrorCode.BAD_FRAME, `reserved flags must be 0 in protocol version 1, got 0x${flags.toString(16)}`, {
      requestId,
      type,
    });
  }
  return { type, requestId, headerLength: readU32(bytes, 12) };
}

export function writeFixedHeader(bytes: Uint8Array, type: MessageType, requestId: number, headerLength: number): void {
  writeU32(bytes, 0, FRAME_MAGIC);
  bytes[4] = PROTOCOL_VERSION;
  bytes[5] = type;
  bytes[6] = 0;
  bytes[7] = 0;
  writeU32(bytes, 8, requestId);
  writeU32(bytes, 12, headerLength);
}

export function checkRequestId(requestId: unknown): asserts requestId is number {
  if (typeof requestId !== 'number' || !Number.isInteger(requestId) || requestId < 0 || requestId > 0xffffffff) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `requestId must be an integer in 0..4294967295, got ${describe(requestId)}`);
  }
}

