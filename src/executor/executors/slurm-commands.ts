/**
 * The Slurm client commands bdlab uses, each one call with parsed output: sbatch to submit,
 * squeue for the state of all of a run's jobs at once, scontrol / sacct for jobs squeue no longer
 * lists, scancel, and scontrol ping for the preflight check.
 */
export interface QueueEntry {
  jobId: string;
  /** The job's name (`--job-name`), to tell our job from another that got the same id after a cluster reset. */
  name?: string;
  state: string;
  reason?: string;
  node?: string;
  /** `exit:signal` as scontrol/sacct print it (`1:0`, `0:15`). */
  exitCode?: string;
}

export class SlurmCommandError extends Error {
  override readonly name = 'SlurmCommandError';
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
  /** The command could not be started at all (ENOENT: not on PATH). */
  missing: boolean;
}

export class SlurmCommands {
  private sacctWorks: boolean | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  private async exec(command: string, args: string[], timeoutMs = 60_000): Promise<Output> {
    const { execa } = await import('execa');
    const r = await execa(command, args, { env: this.env, extendEnv: false, reject: false, stdin: 'ignore', timeout: timeoutMs });
    const missing = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String((r as { originalMessage?: string }).originalMessage ?? ''));
    return { code: r.exitCode ?? (missing ? 127 : -1), stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '').trim(), missing };
  }

  /** Why jobs can't be submitted here, or undefined when they can. Submits nothing. */
  async unavailable(): Promise<string | undefined> {
    const sbatch = await this.exec('sbatch', ['--version'], 15_000);
    if (sbatch.missing) {
      return 'sbatch is not on PATH, so no Slurm job can be submitted from this machine (install the Slurm client, run on a login node, or try a single-node cluster with scripts/slurm-local.sh start); nothing was submitted';
    }
    const ping = await this.exec('scontrol', ['ping'], 30_000);
    const said = (ping.stdout.trim() || ping.stderr).replace(/\s+/g, ' ');
    if (ping.missing) return 'scontrol is not on PATH, so the Slurm controller cannot be reached; nothing was submitted';
    if (ping.code !== 0 || !/\bUP\b/.test(ping.stdout)) {
      return `the Slurm controller does not answer (scontrol ping: "${said || `exit code ${ping.code}`}"); start it (scripts/slurm-local.sh start for the single-node cluster) or check SLURM_CONF; nothing was submitted`;
    }
    return undefined;
  }

  /** Returns the job id. */
  async sbatch(script: string): Promise<string> {
    const r = await this.exec('sbatch', ['--parsable', script]);
    const jobId = /^(\d+)/.exec(r.stdout.trim())?.[1];
    if (r.code !== 0 || !jobId) throw new SlurmCommandError(`sbatch ${script} failed: ${r.stderr || r.stdout.trim() || `exit code ${r.code}`}`);
    return jobId;
  }

  /** States of the given jobs in one call (finished jobs too, while the controller remembers them). */
  async squeue(jobIds: readonly string[]): Promise<Map<string, QueueEntry>> {
    const found = new Map<string, QueueEntry>();
    if (jobIds.length === 0) return found;
    const r = await this.exec('squeue', ['--noheader', '--states=all', `--jobs=${jobIds.join(',')}`, '--format=%i|%T|%r|%N|%j']);
    if (r.missing) throw new SlurmCommandError('squeue is not on PATH');
    // squeue fails when *none* of the ids is known any more; that is an answer, not an error.
    if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) throw new SlurmCommandError(`squeue failed: ${r.stderr || `exit code ${r.code}`}`);
    for (const line of r.stdout.split('\n')) {
      const [jobId, state, reason, node, ...name] = line.trim().split('|');
      if (!jobId || !state) continue;
      found.set(jobId, { jobId, state, ...(reason && reason !== 'None' ? { reason } : {}), ...(node ? { node } : {}), ...(name.length ? { name: name.join('|') } : {}) });
    }
    return found;
  }

  /** Jobs with this name (to find a job whose submitting head died before recording its id). */
  async squeueByName(jobName: string): Promise<QueueEntry[]> {
    const r = await this.exec('squeue', ['--noheader', '--states=all', `--name=${jobName}`, '--format=%i|%T|%r|%N']);
    if (r.code !== 0) throw new SlurmCommandError(`squeue failed: ${r.stderr || `exit code ${r.code}`}`);
    return r.stdout.split('\n').map((l) => l.trim().split('|')).filter(([id, state]) => id && state).map(([jobId, state]) => ({ jobId: jobId!, state: state! }));
  }

  /** What the controller still knows about a job (state, exit code); undefined once it forgot it. */
  async scontrolJob(jobId: string): Promise<QueueEntry | undefined> {
    const r = await this.exec('scontrol', ['show', 'job', '--oneliner', jobId]);
    if (r.code !== 0) return undefined;
    const field = (name: string): string | undefined => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(r.stdout)?.[1];
    const state = field('JobState');
    if (!state) return undefined;
    const reason = field('Reason');
    const node = field('NodeList');
    const exitCode = field('ExitCode');
    const name = field('JobName');
    return { jobId, state, ...(name ? { name } : {}), ...(reason && reason !== 'None' ? { reason } : {}), ...(node && node !== '(null)' ? { node } : {}), ...(exitCode ? { exitCode } : {}) };
  }

  /** From accounting, where the cluster keeps it (not on clusters without slurmdbd). */
  async sacct(jobId: string): Promise<QueueEntry | undefined> {
    if (this.sacctWorks === false) return undefined;
    const r = await this.exec('sacct', ['--noheader', '--parsable2', '--allocations', `--jobs=${jobId}`, '--format=JobIDRaw,State,ExitCode,NodeList,JobName']);
    if (r.code !== 0 || r.missing) {
      if (r.missing || /accounting storage is disabled/i.test(r.stderr)) this.sacctWorks = false;
      return undefined;
    }
    this.sacctWorks = true;
    const line = r.stdout.split('\n').map((l) => l.split('|')).find(([id]) => id === jobId);
    if (!line || !line[1]) return undefined;
    return {
      jobId,
      state: line[1],
      ...(line[2] ? { exitCode: line[2] } : {}),
      ...(line[3] && line[3] !== 'None assigned' ? { node: line[3] } : {}),
      ...(line[4] ? { name: line.slice(4).join('|') } : {}),
    };
  }

  async scancel(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const r = await this.exec('scancel', [...jobIds]);
    if (r.code !== 0 && !/Invalid job id|already completing or completed/i.test(r.stderr)) {
      throw new SlurmCommandError(`scancel ${jobIds.join(' ')} failed: ${r.stderr || `exit code ${r.code}`}`);
    }
  }
}
