import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { Info } from './wasm_heap.js';

/**
 * Deferred native kernels: overlapping the backward pass's JavaScript with its filter gradients.
 *
 * At N > 1 threads the pool's workers sit idle whenever JavaScript runs (TF.js' dispatch and autodiff
 * tape, 15-20 % of a training step) and whenever the caller waits for the last chunk of a kernel. A
 * filter gradient is read by nothing but the optimizer, after the whole backward pass, so instead of
 * running it where it is called, the kernel hands it to the pool (native/src/parallel.h, defer()): an
 * idle worker computes it while JavaScript goes on, and whatever is still queued runs when something
 * needs a result. The task computes exactly what the synchronous kernel would, so every result keeps
 * its bits (and 1 thread runs everything in place, as before).
 *
 * This module keeps that invisible to TF.js:
 * - the task's inputs are held (one extra reference each on the backend) so that TF.js disposing them
 *   does not free memory a worker still reads; they are released once the task has finished;
 * - every access to a tensor's memory goes through the backend's dataIdMap.get, so that lookup is
 *   wrapped: touching a pending output (a kernel reading it, readSync, dispose) first waits for the
 *   deferred tasks. Reshape and Identity share the dataId, so aliases are covered too.
 */

export interface DeferralNative {
  waitForDeferred(): void;
  deferredFinishedBelow(): number;
}

interface Pending {
  id: number;
  outputs: object[];
  held: object[];
}

interface DataStorage {
  get(dataId: object): unknown;
}

let enabled = true;
let minMacs: number | undefined;
const pending: Pending[] = [];
/** Outputs of pending tasks (dataIds), what the wrapped dataIdMap.get checks. */
const pendingOutputs = new Set<object>();
const hooked = new WeakSet<object>();
let native: DeferralNative | undefined;
let deferredSoFar = 0;
let waitedMs = 0;
let owner: BackendWasm | undefined;

/**
 * Deferring has a cost of its own (holding the inputs, the worker's hand-over, a wait at the end) and
 * pays only when the task is long enough to fill idle time: LeNet5's filter gradients (15-23M
 * multiply-adds, ~0.2 ms) trained 1.62x faster at 2 threads than at 1 in place, 1.42x deferred.
 * Most of ResNet34's and VGG16's are 38M-600M at width 0.25, more at width 1 (ResNet34's 1x1
 * shortcuts, 8M, and VGG16's RGB stem, 28M, stay in place).
 */
export const MIN_DEFERRED_MACS = 2 ** 25;

/** Whether a kernel of `macs` multiply-adds is worth deferring (deferral on, and long enough). */
export function worthDeferring(macs: number): boolean {
  return enabled && macs >= (minMacs ?? MIN_DEFERRED_MACS);
}

/**
 * Turns deferral off (every kernel runs where it is called, as at one thread) or back on: for
 * benchmarks and tests, which may also defer smaller kernels than MIN_DEFERRED_MACS (0: every one).
 */
export function setKernelDeferralEnabled(on: boolean, minimumMacs?: number): void {
  if (!on) waitForDeferredKernels();
  enabled = on;
  minMacs = minimumMacs;
}

/**
 * Runs `start`, which calls a native kernel with its deferred flag and returns the task id (0 when the
 * addon ran it at once), and tracks the task: `inputs` stay alive and `outputs` wait for it when touched.
 */
export function deferKernel(backend: BackendWasm, addon: DeferralNative, outputs: Info[], inputs: Info[], start: () => number): void {
  hook(backend, addon);
  const id = start();
  if (id === 0) return;
  deferredSoFar++;
  const held = inputs.map((input) => input.dataId);
  for (const dataId of held) backend.incRef(dataId);
  const outputIds = outputs.map((output) => output.dataId);
  for (const dataId of outputIds) pendingOutputs.add(dataId);
  pending.push({ id, outputs: outputIds, held });
  releaseFinished(addon.deferredFinishedBelow());
}

/** Waits for every deferred kernel and releases what they held. Rethrows a task's error. */
export function waitForDeferredKernels(): void {
  if (native === undefined || pending.length === 0) return;
  const started = performance.now();
  try {
    native.waitForDeferred();
  } finally {
    releaseFinished(Number.POSITIVE_INFINITY);
    waitedMs += performance.now() - started;
  }
}

/** Deferred kernels not yet released: queued, running, or finished since the last check. */
export function pendingDeferredKernels(): number {
  return pending.length;
}

/** Kernels deferred in this process so far (for tests and the benchmark's profile). */
export function deferredKernelCount(): number {
  return deferredSoFar;
}

/** Milliseconds JavaScript has spent waiting for (and helping with) deferred kernels so far (the benchmark's profile). */
export function deferredWaitMs(): number {
  return waitedMs;
}

function releaseFinished(below: number): void {
  while (pending.length > 0 && pending[0]!.id < below) {
    const task = pending.shift()!;
    for (const dataId of task.outputs) pendingOutputs.delete(dataId);
    for (const dataId of task.held) {
      // The last reference may be ours (TF.js disposed the tensor meanwhile): free it and tell the engine.
      if (owner!.disposeData(dataId)) (tf.engine() as unknown as { removeDataId(id: object, b: unknown): void }).removeDataId(dataId, owner);
    }
  }
}

/** Wraps the backend's dataIdMap.get once, so that touching a pending output waits for the deferred kernels. */
function hook(backend: BackendWasm, addon: DeferralNative): void {
  native = addon;
  owner = backend;
  const storage = (backend as unknown as { dataIdMap: DataStorage }).dataIdMap;
  if (hooked.has(storage)) return;
  hooked.add(storage);
  const get = storage.get.bind(storage);
  storage.get = (dataId: object): unknown => {
    if (pendingOutputs.size !== 0 && pendingOutputs.has(dataId)) waitForDeferredKernels();
    return get(dataId);
  };
}
