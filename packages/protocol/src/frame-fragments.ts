/**
 * Sends one carboncp frame, given as encodeFrameParts' parts (header, then views of the tensors'
 * own memory), as one WebSocket message without first copying the tensors into a frame buffer.
 * The receiver needs nothing new: ws reassembles fragments into one message.
 *
 * Parts under JOIN_BELOW_BYTES are joined (a whole small message becomes one ordinary frame):
 * below that size a copy costs less than the extra frame header and socket write a fragment
 * takes. Large tensors go as fragments of their own.
 *
 * It lives here, not in the device or the server (which may not import each other), and needs
 * no `ws` import: any sink with ws 8's `send(data, { binary, fin })` will do. A browser
 * WebSocket cannot send fragments; its transport sends `concatParts(parts)` instead.
 */

/** The one method of a `ws` WebSocket used here (ws 8: `fin: false` sends a non-final fragment). */
export interface FragmentSink {
  send(data: Uint8Array, options: { binary: boolean; fin: boolean }): void;
}

export const JOIN_BELOW_BYTES = 64 * 1024;

/** The parts as one buffer (no copy when there is only one part). */
export function concatParts(parts: readonly Uint8Array[], byteLength = parts.reduce((n, p) => n + p.byteLength, 0)): Uint8Array {
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(byteLength);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

/** The fragments to send: runs of small parts joined, each large part as it is. Same bytes in order. */
export function fragmentsOf(parts: readonly Uint8Array[], joinBelow = JOIN_BELOW_BYTES): Uint8Array[] {
  const fragments: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    fragments.push(concatParts(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  for (const part of parts) {
    if (part.byteLength >= joinBelow) {
      flush();
      fragments.push(part);
    } else {
      pending.push(part);
      pendingBytes += part.byteLength;
      if (pendingBytes >= joinBelow) flush();
    }
  }
  flush();
  return fragments;
}

/**
 * Sends the parts as one binary message. The fragments go out in one synchronous loop: ws queues
 * and writes sends in call order, and no other code runs between the calls, so no other message's
 * data can land between two fragments (ws may still send a ping or pong there, which RFC 6455
 * allows). The tensors' memory must not change until it is written: a server sends unmasked, so
 * ws writes that memory itself (tail outputs are never reused); a client masks into a buffer of
 * its own, and never writes to a crossing tensor anyway.
 */
export function sendFrameParts(ws: FragmentSink, parts: readonly Uint8Array[]): void {
  const fragments = fragmentsOf(parts);
  const last = fragments.length - 1;
  for (let i = 0; i <= last; i++) ws.send(fragments[i], { binary: true, fin: i === last });
}
