import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { CONNECTION_CLOSE_CODES, CloseCode, ErrorCode, errorFromMessage, errorToMessage } from './error-codes.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { MessageType } from './messages.js';

describe('error codes', () => {
  it('every code is CARBONCP_-prefixed and connection-ending ones map to close codes', () => {
    for (const code of Object.values(ErrorCode)) expect(code).toMatch(/^CARBONCP_[A-Z_]+$/);
    expect(CONNECTION_CLOSE_CODES[ErrorCode.PAYLOAD_TOO_LARGE]).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(CONNECTION_CLOSE_CODES[ErrorCode.UNAUTHORIZED]).toBe(1008);
    expect(CONNECTION_CLOSE_CODES[ErrorCode.BUSY]).toBeUndefined();
  });

  it('an error survives the trip through an error frame', () => {
    const sent = errorToMessage(new CarboncpError(ErrorCode.DIGEST_MISMATCH, 'plan digest ab != cd'), 12);
    const received = decodeFrame(encodeFrame(sent));
    if (received.type !== MessageType.Error) throw new Error('wrong type');
    const error = errorFromMessage(received.body);
    expect(error.code).toBe('CARBONCP_DIGEST_MISMATCH');
    expect(error.message).toBe('plan digest ab != cd');
    expect(error.details).toEqual({ remote: true, requestId: 12 });
    expect(errorFromMessage({ code: ErrorCode.UNAUTHORIZED, message: 'bad token' }).closeCode).toBe(1008);
  });

  it('foreign errors become CARBONCP_INTERNAL without their stack', () => {
    const message = errorToMessage(new TypeError('x is undefined'), 0);
    expect(message).toEqual({ type: MessageType.Error, requestId: 0, body: { code: 'CARBONCP_INTERNAL', message: 'x is undefined' } });
  });
});
