/** First crossing values that make test-tail-worker.ts crash or block its worker (see there). */
export const EXIT_MARKER = 7777;
export const THROW_MARKER = 8888;
export const GATE_MARKER = 5555;
/** The test worker runs it but its reply never reaches the main thread (a message lost). */
export const SWALLOW_MARKER = 6666;
