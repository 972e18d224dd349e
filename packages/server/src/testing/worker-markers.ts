/** First crossing values that make test-tail-worker.ts crash or block its worker (see there). */
export const EXIT_MARKER = 7777;
export const THROW_MARKER = 8888;
export const GATE_MARKER = 5555;
