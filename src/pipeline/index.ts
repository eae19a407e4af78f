/** The pipeline analyzer: YAML file -> validated, expanded, ordered Plan (pure; no processes, no TF.js). */
export { analyzePipeline, analyzePipelineText } from './analyze.js';
export { formatDiagnostics } from './diagnostics.js';
export type { AnalysisFailure } from './diagnostics.js';
export { loadStageKinds } from './stage-kinds.js';
export type { StageKind } from './stage-kinds.js';
export { canonicalJson } from './canonical-json.js';
export { formatInstanceId, sanitizeInstanceId } from './instance-id.js';
export type * from './types.js';
