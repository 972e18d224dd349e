// The part of vitest's API the neutral client's unit tests use, for running them in a browser
// page: vitest's own assertion library (@vitest/expect on chai, as vitest builds its expect) and
// spies (@vitest/spy), with a small sequential runner. Fake timers are not here: the test files
// that use them (and those that read files through Node) stay out of the browser run.
// Plain JS (not type-checked): @vitest/expect and @vitest/spy are vitest's own dependencies, not
// the test package's, so the bundler finds them through aliases (../support/build.ts).
import { ASYMMETRIC_MATCHERS_OBJECT, GLOBAL_EXPECT, JestAsymmetricMatchers, JestChaiExpect, JestExtend, chai, getState, setState } from '@vitest/expect';
import { spyOn as spySpyOn } from '@vitest/spy';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = (value, message) => {
  const { assertionCalls } = getState(expect);
  setState({ assertionCalls: assertionCalls + 1 }, expect);
  return chai.expect(value, message);
};
Object.assign(expect, chai.expect);
Object.assign(expect, globalThis[ASYMMETRIC_MATCHERS_OBJECT]);
globalThis[GLOBAL_EXPECT] = expect;
setState({ assertionCalls: 0, isExpectingAssertions: false, isExpectingAssertionsError: null, expectedAssertionsNumber: null, expectedAssertionsNumberErrorGen: null }, expect);

const newSuite = (name) => ({ name, tests: [], suites: [], beforeEach: [], afterEach: [] });
let current = newSuite('');

export function describe(name, body) {
  const parent = current;
  const suite = newSuite(name);
  parent.suites.push(suite);
  current = suite;
  try {
    body();
  } finally {
    current = parent;
  }
}

export function it(name, fn) {
  current.tests.push({ name, fn });
}
export const test = it;
export const beforeEach = (fn) => void current.beforeEach.push(fn);
export const afterEach = (fn) => void current.afterEach.push(fn);

export const vi = {
  spyOn: spySpyOn,
  mocked: (value) => value,
  /** Retries `check` on real timers until it stops throwing (vitest's default: 1000 ms, every 50 ms). */
  async waitFor(check, options = {}) {
    const deadline = performance.now() + (options.timeout ?? 1000);
    for (;;) {
      try {
        return await check();
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, options.interval ?? 50));
      }
    }
  },
};

/** Collects the tests a module registers when it is imported, then runs them in order: [{ file, name, ok, error? }]. */
export async function runFile(file, load) {
  const root = newSuite(file);
  current = root;
  await load();
  current = newSuite('');
  const outcomes = [];
  const walk = async (suite, path, before, after) => {
    const hooksBefore = [...before, ...suite.beforeEach];
    const hooksAfter = [...suite.afterEach, ...after];
    for (const { name, fn } of suite.tests) {
      const outcome = { file, name: [...path, name].join(' > '), ok: true };
      try {
        for (const hook of hooksBefore) await hook();
        await fn();
      } catch (error) {
        outcome.ok = false;
        outcome.error = String(error?.stack ?? error);
      }
      for (const hook of hooksAfter) {
        try {
          await hook();
        } catch (error) {
          outcome.ok = false;
          outcome.error = `afterEach: ${String(error)}`;
        }
      }
      outcomes.push(outcome);
    }
    for (const child of suite.suites) await walk(child, [...path, child.name], hooksBefore, hooksAfter);
  };
  await walk(root, [], [], []);
  return outcomes;
}
