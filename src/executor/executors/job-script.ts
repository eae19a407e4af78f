import type { SlurmSettings } from '../../pipeline/executor-settings.js';
import { timeLimitSeconds, type StageResources } from '../../pipeline/resources.js';
import type { ChildStartMessage } from '../../common/stage-protocol.js';
import type { JobFiles } from '../job-protocol.js';
import { THREADS_ENV } from '../../common/threads.js';

export interface JobScriptRequest {
  instanceId: string;
  cacheKey: string;
  jobName: string;
  files: JobFiles;
  /** The workspace root: the job's working directory. */
  workdir: string;
  /** Node on the compute node: the same path as the head's (the project and Node are shared). */
  node: string;
  /** Compiled src/stages/job.js. */
  entry: string;
  resources: StageResources;
  /** Threads for the stage's kernels: exported as $BDLAB_THREADS (the job's --cpus-per-task unless set otherwise). */
  threads: number;
  slurm: SlurmSettings;
  /** The start message; the script writes it to `files.start`, so it runs again by hand after the scratch directory is gone. */
  start: ChildStartMessage;
}

/**
 * The sbatch options of one instance's job. Requeueing is left to bdlab (`settings.slurm.retries`),
 * so a state Slurm reports is final and the head decides what happens next.
 */
export function sbatchOptions(req: JobScriptRequest): string[] {
  const { resources, slurm } = req;
  const time = resources.time ?? slurm.time;
  const mem = resources.mem ?? slurm.mem;
  return [
    `--job-name=${req.jobName}`,
    `--output=${req.files.stdout}`,
    `--error=${req.files.stderr}`,
    `--chdir=${req.workdir}`,
    '--no-requeue',
    '--ntasks=1',
    `--cpus-per-task=${resources.cpus ?? 1}`,
    ...(mem !== undefined ? [`--mem=${mem}`] : []),
    ...(time !== undefined ? [`--time=${slurmTime(time)}`] : []),
    ...(slurm.partition ? [`--partition=${slurm.partition}`] : []),
    ...(slurm.account ? [`--account=${slurm.account}`] : []),
    ...(slurm.qos ? [`--qos=${slurm.qos}`] : []),
    ...(slurm.sbatch_args ?? []),
  ];
}

/** `D-HH:MM:SS`; sbatch rounds seconds up to whole minutes. */
function slurmTime(time: string | number): string {
  const total = timeLimitSeconds(time);
  const two = (n: number): string => String(n).padStart(2, '0');
  const days = Math.floor(total / 86400);
  const rest = total % 86400;
  return `${days}-${two(Math.floor(rest / 3600))}:${two(Math.floor((rest % 3600) / 60))}:${two(rest % 60)}`;
}

/**
 * The job script: `#SBATCH` lines, the start message, then the instance's Node process; the exit
 * code goes to a file so the head can tell "exited 3" from "killed" even where Slurm has forgotten
 * the job. Written into the run directory, where it can be read and submitted again by hand.
 */
export function renderJobScript(req: JobScriptRequest): string {
  const directive = (option: string): string => `#SBATCH ${/\s|"/.test(option) ? `"${option.replace(/(["\\])/g, '\\$1')}"` : option}`;
  return [
    '#!/bin/bash',
    `# bdlab: instance ${req.instanceId}, cache key ${req.cacheKey}.`,
    '# Written by `bdlab run --executor slurm`; `sbatch` this file to run the instance again by hand',
    '# (its outputs go to the pending directory named in the start message, not into the cache).',
    ...sbatchOptions(req).map(directive),
    '',
    `export ${THREADS_ENV}=${req.threads}`,
    `mkdir -p ${shellQuote(req.files.dir)}`,
    `cat > ${shellQuote(req.files.start)} <<'${START_DELIMITER}'`,
    JSON.stringify(req.start),
    START_DELIMITER,
    `${shellQuote(req.node)} ${shellQuote(req.entry)} ${shellQuote(req.files.start)}`,
    'status=$?',
    `echo "$status" > ${shellQuote(req.files.exitStatus)}`,
    'exit "$status"',
    '',
  ].join('\n');
}

/** JSON.stringify never produces a line equal to this. */
const START_DELIMITER = 'BDLAB_START_MESSAGE';

export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
