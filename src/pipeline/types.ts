import type { JsonObject, JsonPrimitive } from '../common/json.js';
import type { StageResources } from './resources.js';

/** Branded strings keep ids, keys and paths from being mixed up. */
export type StageId = string & { readonly __brand: 'StageId' };
/** e.g. `train[model=lenet5,rate=0.1]`; equal to the StageId when the stage has no matrix. */
export type InstanceId = string & { readonly __brand: 'InstanceId' };

/** A matrix value: YAML scalars only, so ids stay readable and keys stay canonical. */
export type MatrixValue = JsonPrimitive;
/** One point of a sweep: matrix key -> value (own keys and keys inherited from upstream stages). */
export type MatrixPoint = Readonly<Record<string, MatrixValue>>;

/** A source position, 1-based, as printed in diagnostics (`file:line:col`). */
export interface SourcePosition {
  line: number;
  col: number;
}
export interface SourceRange {
  file: string;
  start: SourcePosition;
  end: SourcePosition;
}

/** A user-facing problem is data; one printer (src/pipeline/diagnostics.ts) formats it. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  /** YAML path such as `stages.train.params.epochs`. */
  path: string;
  message: string;
  location?: SourceRange;
  /** Extra places that explain the problem, e.g. each `needs` edge of a cycle. */
  related?: { message: string; location?: SourceRange }[];
}

/** One concrete unit of work: a stage with its matrix point fixed and its params resolved. */
export interface PlannedInstance {
  id: InstanceId;
  stage: StageId;
  kind: string;
  matrix: MatrixPoint;
  /** Params after merging `defaults` and substituting `${{ matrix.x }}`; validated against the kind's schema. */
  params: JsonObject;
  /** Upstream instances this one consumes, in a stable order. */
  inputs: InstanceId[];
  /** `stages.<id>.resources`, when the stage has them (shared by all its instances). */
  resources?: StageResources;
}

/** The analyzer's product: instances in a valid execution (topological) order. */
export interface Plan {
  name: string;
  description?: string;
  /** Absolute path of the pipeline file. */
  file: string;
  /** Pipeline-level settings (e.g. backend, cache dir) as written. */
  settings: JsonObject;
  instances: PlannedInstance[];
  /** Problems that did not stop planning (e.g. YAML warnings); absent when there were none. */
  warnings?: Diagnostic[];
}

/** What the pipeline analyzer knows about a stage kind: read from schemas/stages/<kind>.schema.json. */
export interface StageKindInfo {
  kind: string;
  /** Implementation version (`x-bdlab-version` in the schema); part of every cache key. */
  version: string;
  schemaFile: string;
}
