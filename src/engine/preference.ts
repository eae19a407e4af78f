export type BackendPreference = 'auto' | 'node' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'node', 'wasm', 'cpu'];

/** Undefined or empty means 'auto'; anything else must be one of the four names (case-insensitive). */
export function parseBackendPreference(value: string | undefined): BackendPreference {
  if (value === undefined || value.trim() === '') return 'auto';
  const normalized = value.trim().toLowerCase();
  const match = BACKEND_PREFERENCES.find((name) => name === normalized);
  if (match === undefined) {
    throw new Error(
      `Unknown TF.js backend "${value}". Valid backends are: ` +
        `auto (tfjs-node if installed, else WebAssembly, else pure JavaScript), ` +
        `node (requires @tensorflow/tfjs-node), wasm (WebAssembly with bdlab's training kernels), ` +
        `cpu (pure JavaScript, slowest).`,
    );
  }
  return match;
}
