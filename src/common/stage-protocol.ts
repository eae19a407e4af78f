import type { JsonObject } from './json.js';
import type { StageInput, StageProgress, StageResult } from './stage-contract.js';

/** First message to a stage child: everything the StageContext needs, as plain data. */
export interface ChildStartMessage {
  type: 'start';
  id: string;
  kind: string;
  params: JsonObject;
  inputs: StageInput[];
  outDir: string;
  scratchDir: string;
  dataPath: string[];
  backend: string;
  /** `resources.cpus` of the stage: the most CPU cores the instance may use (its thread cap). */
  cpus?: number;
}

/** Asks the stage to stop (ctx.signal); the parent kills the process if it doesn't exit in time. */
export interface ChildAbortMessage {
  type: 'abort';
}

export type ParentMessage = ChildStartMessage | ChildAbortMessage;

export type ChildMessage =
  | ({ type: 'progress' } & StageProgress)
  | { type: 'log'; line: string }
  | { type: 'backend'; name: string; versions: Record<string, string>; threads?: number }
  | { type: 'done'; result: StageResult }
  | { type: 'error'; message: string; userFacing: boolean; stack?: string };
