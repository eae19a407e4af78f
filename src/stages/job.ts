/**
 * Entry point of a stage instance running as a cluster job: `node job.js <scratch>/slurm/start.json`,
 * started by the job script the head wrote. Runs the same instance code as a local child
 * (instance.ts) but reports through files in the scratch directory (job-protocol.ts), since the
 * head process may be on another machine, or dead and later replaced by a rerun that adopts us.
 */
import { appendFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ChildMessage, ChildStartMessage } from '../common/stage-protocol.js';
import { jobFilesOf, type JobEvent, type JobResult } from '../executor/job-protocol.js';
import { hashTree } from '../executor/tree-hash.js';
import { errorMessage, runInstance, type FinalMessage } from './instance.js';

/** Progress lines are kept to a few per second: the head reads the file over a network filesystem. */
const PROGRESS_INTERVAL_MS = 250;

const startFile = process.argv[2];
if (!startFile) {
  process.stderr.write('usage: node job.js <scratch>/slurm/start.json (written by `bdlab run --executor slurm`)\n');
  process.exit(2);
}
const abort = new AbortController();
let eventsFile = '';
let resultFile = '';
let lastProgressAt = 0;
let heldProgress: JobEvent | undefined;

function append(event: JobEvent): void {
  appendFileSync(eventsFile, JSON.stringify(event) + '\n');
}

function send(message: ChildMessage): void {
  if (message.type === 'done' || message.type === 'error') return;
  if (message.type === 'progress') {
    const now = Date.now();
    if (now - lastProgressAt < PROGRESS_INTERVAL_MS) {
      heldProgress = message;
      return;
    }
    lastProgressAt = now;
    heldProgress = undefined;
  } else if (heldProgress) {
    append(heldProgress);
    heldProgress = undefined;
  }
  append(message);
}

async function finish(final: FinalMessage, outDir: string | undefined): Promise<never> {
  if (heldProgress) append(heldProgress);
  let result: JobResult;
  if (final.type === 'done' && outDir !== undefined) {
    result = { type: 'done', result: final.result, contentHash: (await hashTree(outDir)).contentHash };
  } else if (final.type === 'error') {
    result = final;
  } else {
    result = { type: 'error', message: 'the job finished without an outputs directory', userFacing: false };
  }
  const tmp = `${resultFile}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(result) + '\n');
  await rename(tmp, resultFile);
  process.exit(result.type === 'done' ? 0 : 1);
}

// scancel and time limits send SIGTERM (SIGKILL follows after Slurm's KillWait): let the stage
// stop between batches, as a local child does when asked.
process.on('SIGTERM', () => abort.abort(new Error('the Slurm job was signalled (SIGTERM)')));
process.on('SIGINT', () => abort.abort(new Error('the Slurm job was signalled (SIGINT)')));

async function main(file: string): Promise<never> {
  let start: ChildStartMessage;
  try {
    start = JSON.parse(await readFile(file, 'utf8')) as ChildStartMessage;
  } catch (err) {
    process.stderr.write(`cannot read the job's start file ${file}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const files = jobFilesOf(start.scratchDir);
  eventsFile = files.events;
  resultFile = files.result;
  process.on('uncaughtException', (err) => void finish(errorMessage(err), undefined));
  process.on('unhandledRejection', (err) => void finish(errorMessage(err), undefined));
  // A job script submitted again by hand may find its outputs directory gone: start it afresh.
  await mkdir(start.outDir, { recursive: true });
  await mkdir(dirname(eventsFile), { recursive: true });
  const final = await runInstance(start, abort.signal, send);
  return finish(final, start.outDir);
}

void main(startFile);
