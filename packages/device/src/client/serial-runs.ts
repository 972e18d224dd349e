/**
 * Runs tasks one after another in call order, each timed from its own start (not from when it
 * was queued): a runtime's session runs go through one of these, so that a head's compute time
 * never includes another run's, and a failed run does not stop the ones behind it.
 */
export class SerialRuns {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<{ result: T; ms: number }> {
    const run = this.tail.then(async () => {
      const started = performance.now();
      const result = await task();
      return { result, ms: performance.now() - started };
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
