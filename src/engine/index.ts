export type { BackendPreference } from './preference.js';
export { parseBackendPreference } from './preference.js';
export type { BackendInfo } from './init.js';
export { initEngine } from './init.js';
export { engineThreads, setEngineThreads } from './threads.js';
export { adamOptimizer } from './fused-adam.js';
export { deferredKernelCount, deferredWaitMs, setKernelDeferralEnabled, waitForDeferredKernels } from './kernels/deferred.js';
