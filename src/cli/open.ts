import { resolve } from 'node:path';
import { formatDiagnostics } from '../pipeline/index.js';
import { openPipeline, type OpenPipeline } from '../executor/open-pipeline.js';
import { absolutePath, backendOption, executorOption, maxInstancesOption, optionalString, stringList } from './args.js';
import { EXIT_INVALID, UsageError, type CliIo } from './io.js';

type Values = Parameters<typeof stringList>[0];

/** Opens FILE for `run` and `plan`; prints diagnostics and returns an exit code when it can't. */
export async function openFromArgs(io: CliIo, file: string, values: Values, extra: { only: string[]; force: string[] }): Promise<OpenPipeline | number> {
  const workspace = absolutePath(io.cwd, optionalString(values, 'workspace')) ?? io.cwd;
  const cacheDir = absolutePath(io.cwd, optionalString(values, 'cache-dir'));
  const backend = backendOption(values);
  const executor = executorOption(values);
  const staleEnv = io.env['BDLAB_LOCK_STALE_MS'];
  const maxInstances = maxInstancesOption(io.env);
  const opened = await openPipeline({
    file: resolve(io.cwd, file),
    workspace,
    cwd: io.cwd,
    env: io.env,
    ...(cacheDir !== undefined ? { cacheDir } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(executor !== undefined ? { executor } : {}),
    dataPath: stringList(values, 'data-path').map((p) => resolve(io.cwd, p)),
    only: extra.only,
    force: extra.force,
    ...(staleEnv && /^\d+$/.test(staleEnv) ? { lockStaleMs: Number(staleEnv) } : {}),
    ...(maxInstances !== undefined ? { maxInstances } : {}),
    workspaceFromOption: optionalString(values, 'workspace') !== undefined,
  });
  if (opened.ok) return opened.value;
  if (opened.error.kind === 'invalid') {
    io.err(formatDiagnostics(opened.error.failure));
    return EXIT_INVALID;
  }
  throw new UsageError(opened.error.message);
}
