import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { formatRunSummary, plainDisplay } from '../executor/display-plain.js';
import { RunEvents } from '../executor/events.js';
import { planStatus } from '../executor/plan-status.js';
import { createExecutor } from '../executor/executors/index.js';
import { runPipeline } from '../executor/run-pipeline.js';
import { EXECUTOR_DEFAULTS } from '../pipeline/executor-settings.js';
import { THREADS_ENV, type ThreadsSetting } from '../common/threads.js';
import { resolveThreads } from '../executor/threads.js';
import { flag, optionalString, parseCommandArgs, positiveInt, stringList } from './args.js';
import type { Command } from './command.js';
import { EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_STAGE_FAILED, UsageError, type CliIo } from './io.js';
import { openFromArgs } from './open.js';
import { printPlanRows } from './plan.js';
import { RUN_OPTIONS } from './run-options.js';

const USAGE = `Usage: bdlab run FILE [options]

Runs a pipeline: validates FILE, then runs every stage instance that isn't cached, in dependency
order, each in its own process (or Slurm job). Results go to runs/<timestamp>-<name>-<hash>/ in
the workspace.

Options:
  --executor E        where instances run: local (child processes) or slurm (one sbatch job
                      per instance; see README "Running on a cluster"); default settings.executor,
                      then local
  --jobs N            local: use up to N slots at once (an instance takes resources.cpus slots,
                      default 1 slot, --jobs default 1); slurm: up to N jobs in the queue at once
                      (default 100)
  --threads N|auto    threads for each instance's kernels (default: $BDLAB_THREADS,
                      then settings.threads, then auto = available cores / --jobs)
  --only ID...        run only these instances or stages, plus what they need
  --force ID...       rebuild these instances or stages even when cached
  --dry-run           print what would run (with cache status) and exit
  --fail-fast         stop everything at the first failure
  --backend B         TF.js backend for stages: auto, node, wasm, cpu
                      (default: $BDLAB_BACKEND, then settings.backend, then auto)
  --data-path DIR     directory searched for datasets; repeatable; also $BDLAB_DATA_PATH
  --cache-dir DIR     cache location, may be outside the workspace (default: $BDLAB_CACHE_DIR,
                      then settings.cache_dir inside the workspace, then .bdlab/cache)
  --workspace DIR     workspace root (default: current directory)
  --verbose           print every stage log line (non-interactive output)
  --debug             show stack traces for internal errors and stage crashes
  -h, --help          show this help

Exit status: 0 all instances succeeded or were cached, 1 an instance failed,
2 invalid pipeline or arguments, 130 interrupted.`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run a pipeline (cached instances are reused)',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(
      'run',
      argv,
      RUN_OPTIONS,
      ['only', 'force'],
    );
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(`run: expected exactly one pipeline FILE, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    // Checked before the pipeline is read; its default depends on the executor the pipeline may choose.
    const givenJobs = optionalString(values, 'jobs') === undefined ? undefined : positiveInt(values, 'jobs', 1);
    const only = stringList(values, 'only');
    const force = stringList(values, 'force');
    const opened = await openFromArgs(io, positionals[0]!, values, { only, force });
    if (typeof opened === 'number') return opened;
    const jobs = givenJobs ?? EXECUTOR_DEFAULTS.jobs[opened.executor];
    const cliThreads = optionalString(values, 'threads');
    const threadSources = {
      ...(cliThreads !== undefined ? { cli: cliThreads } : {}),
      ...(io.env[THREADS_ENV] !== undefined ? { env: io.env[THREADS_ENV] } : {}),
      ...(opened.plan.settings['threads'] !== undefined ? { settings: opened.plan.settings['threads'] as ThreadsSetting } : {}),
      jobs,
      available: availableParallelism(),
    };
    const threads = resolveThreads(threadSources);
    if (!threads.ok) throw new UsageError(threads.error);
    // Per instance, resources.cpus caps the count (and is what 'auto' means). A Slurm job gets the
    // CPUs it asked for (--cpus-per-task, 1 unless resources.cpus says more), not the head's cores.
    const threadsFor = (cpus: number | undefined): number => {
      const stageCpus = opened.executor === 'slurm' ? (cpus ?? 1) : cpus;
      const resolved = resolveThreads({ ...threadSources, ...(stageCpus !== undefined ? { stageCpus } : {}) });
      return resolved.ok ? resolved.value.threads : threads.value.threads;
    };

    if (flag(values, 'dry-run')) {
      const rows = await planStatus(opened.plan, opened.versions, opened.cache, opened.selection);
      printPlanRows(io, opened.plan.name, rows);
      await opened.memo.save().catch(() => undefined);
      return EXIT_OK;
    }

    const executor = createExecutor({
      name: opened.executor,
      cwd: opened.workspace.root,
      slurm: opened.slurm,
      env: io.env,
      onWarning: (message) => io.err(`bdlab: warning: ${message}`),
    });
    // Before the run directory exists: a cluster that can't take jobs is a setup problem, not a failed run.
    const preflight = await executor.preflight();
    if (!preflight.ok) {
      io.err(`bdlab: ${preflight.message}`);
      return EXIT_INVALID;
    }

    const events = new RunEvents();
    const interactive = io.isTTY && opened.selection.selected.size <= 200 && !flag(values, 'verbose');
    // listr2 is loaded only for terminals: it is the slowest import of the CLI.
    const listr = interactive ? (await import('../executor/display-listr.js')).listrDisplay({ cwd: io.cwd, out: io.out, err: io.err }) : undefined;
    events.on(listr ? listr.listener : plainDisplay({ out: io.out, err: io.err, cwd: io.cwd, verbose: flag(values, 'verbose') }));
    const debug = flag(values, 'debug');
    let finished: Parameters<typeof formatRunSummary>[0] | undefined;
    let hiddenStacks = 0;
    events.on((e) => {
      if (e.type === 'failed' && e.detail && !e.userFacing) {
        if (debug) io.err(`${e.id}: ${e.detail}`);
        else hiddenStacks += 1;
      }
      if (e.type === 'run-finished') finished = e;
    });

    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      if (controller.signal.aborted) {
        io.err('bdlab: second interrupt, exiting immediately');
        process.exit(EXIT_INTERRUPTED);
      }
      io.err(`bdlab: ${signal}: stopping running stages (press Ctrl-C again to exit at once)`);
      controller.abort(new Error(`interrupted by ${signal}`));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const outcome = await runPipeline({
        opened,
        jobs,
        threads: threads.value.threads,
        threadsFor,
        failFast: flag(values, 'fail-fast'),
        only,
        force,
        signal: controller.signal,
        events,
        executor,
      });
      await listr?.done();
      if (listr && finished) io.out(formatRunSummary(finished, relative(io.cwd, outcome.run.dir)));
      if (outcome.status === 'interrupted') {
        io.err('bdlab: interrupted; run the same command again to resume (finished instances are cached)');
        return EXIT_INTERRUPTED;
      }
      if (outcome.status === 'failed') {
        const failed = [...outcome.outcomes].filter(([, o]) => o.status === 'failed').map(([id]) => id);
        io.err(
          `bdlab: ${failed.length} instance(s) failed: ${failed.join(', ')}; logs are in ${relative(io.cwd, outcome.run.dir)}/stages/<instance>/log.txt` +
            (hiddenStacks > 0 ? '; run with --debug to see the stack traces of unexpected errors' : ''),
        );
        return EXIT_STAGE_FAILED;
      }
      return EXIT_OK;
    } finally {
      await executor.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
