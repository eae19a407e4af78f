import type { JsonObject } from './json.js';
import type { StageContext, StageProgress, StageResult } from './stage-contract.js';

/**
 * The data fields of a StageContext, shared by both ends of the protocol: the context is
 * described once (stage-contract.ts) and the start message carries exactly its data part.
 */
export type StageContextData = Pick<StageContext, 'id' | 'inputs' | 'outDir' | 'scratchDir' | 'dataPath' | 'backend' | 'cpus'>;

/** First message to a stage child: everything the StageContext needs, as plain data. */
export interface ChildStartMessage extends StageContextData {
  type: 'start';
  kind: string;
  params: JsonObject;
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
