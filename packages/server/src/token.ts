import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Whether `given` is the server's token (the WebSocket hello and the HTTP Bearer header):
 * comparing digests keeps it constant-time whatever the lengths.
 */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}
