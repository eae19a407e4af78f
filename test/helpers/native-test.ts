import { test } from 'uvu';
import { loadNativeKernels } from '../../src/engine/native.js';

/** bdlab's native addon as the tests find it (loaded once per process). */
export const native = loadNativeKernels();

/** A test that needs the native addon: registered as skipped, the reason in its name, where it is not built. */
export function nativeTest(name: string, fn: () => void | Promise<void>): void {
  if (native.loaded) test(name, fn);
  else test(`${name} [skipped: native addon not loaded (${native.reason})]`, () => undefined);
}
