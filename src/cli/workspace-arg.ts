import { workspaceAt, workspaceProblem, type Workspace } from '../executor/workspace.js';
import { absolutePath, optionalString, type ParsedArgs } from './args.js';
import { UsageError, type CliIo } from './io.js';

/**
 * The workspace named by --workspace (or the current directory) for a command that only reads it.
 * A file where the workspace or its state directories should be is a usage error (exit 2), as for
 * `bdlab run`, rather than an empty workspace that has "no runs".
 */
export async function workspaceToRead(io: CliIo, values: ParsedArgs['values'], command: string): Promise<Workspace> {
  const given = optionalString(values, 'workspace');
  const ws = workspaceAt(absolutePath(io.cwd, given) ?? io.cwd);
  const problem = await workspaceProblem(ws, { root: given !== undefined ? '--workspace' : 'the workspace', cacheDir: 'the cache directory' });
  if (problem) throw new UsageError(`${command}: ${problem}`);
  return ws;
}
