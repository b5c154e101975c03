import { resolve } from 'node:path';

/**
 * TLC without a JVM, for the runner's tests: test/fixtures/fake-java.sh stands in for java,
 * records what it was given and plays a real TLC transcript (test/fixtures/tlc/) back.
 */
export const FAKE_JAVA = resolve(import.meta.dirname, '../fixtures/fake-java.sh');

export const tlcTranscript = (name: string): string => resolve(import.meta.dirname, '../fixtures/tlc', name);

/** Sets the fake's FAKE_TLC_* variables (see the script); returns what undoes it. */
export function fakeTlcEnv(vars: Readonly<Record<string, string>>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
