/**
 * The executor: runs a validated Plan with content-verified caching, per-key locks, one child
 * process per stage instance, and a directory per run. Knows stages only by kind name.
 */
export { openPipeline, type OpenPipeline, type OpenRequest, type OpenFailure } from './open-pipeline.js';
export { runPipeline, type RunRequest, type RunOutcome } from './run-pipeline.js';
export { planStatus, type PlanRow, type PlannedStatus } from './plan-status.js';
export { RunEvents, type RunEvent, type RunEventListener, type InstanceStatus, type RunStatus, type BackendInfo, type RunCounts } from './events.js';
export { cacheKeyOf, fingerprintRecord, type CacheKey, type ContentHash, type FingerprintRecord } from './fingerprint.js';
export { CacheStore, type CacheEntry, type CacheEntryMeta, type CacheLookup } from './cache.js';
export { collectGarbage, type GcReport } from './gc.js';
export { readRun, readRuns, type RecordedRun } from './run-history.js';
export { workspaceAt, type Workspace } from './workspace.js';
export type { Manifest, InstanceRecord } from './manifest.js';
export type { PlanFile } from './run-dir.js';
