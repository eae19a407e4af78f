import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/**
 * Where a workspace keeps its state. Everything bdlab writes lives under `<root>/.bdlab`
 * (cache, temp, scratch, memo) or `<root>/runs`, so deleting those two resets a workspace.
 */
export interface Workspace {
  root: string;
  /** Content-addressed cache entries; may be shared by several workspaces. */
  cacheDir: string;
  /** In-progress stage outputs; renamed into the cache only on success. */
  tmpDir: string;
  /** Per-cache-key scratch dirs that survive kills (checkpoints). */
  scratchDir: string;
  /** Memo of file hashes so unchanged cache files are not re-read. */
  hashMemoFile: string;
  runsDir: string;
}

/** `cacheDir` (from --cache-dir or settings.cache_dir) is taken relative to the workspace root. */
export function workspaceAt(root: string, cacheDir?: string): Workspace {
  const absRoot = resolve(root);
  const state = join(absRoot, '.bdlab');
  return {
    root: absRoot,
    cacheDir: cacheDir ? (isAbsolute(cacheDir) ? cacheDir : resolve(absRoot, cacheDir)) : join(state, 'cache'),
    tmpDir: join(state, 'tmp'),
    scratchDir: join(state, 'scratch'),
    hashMemoFile: join(state, 'hash-memo.json'),
    runsDir: join(absRoot, 'runs'),
  };
}

/**
 * Why the workspace can't be used, or undefined: every directory bdlab would create or write must
 * be a directory or not exist yet (below a directory). Checked before anything is written, so a
 * file given as --workspace or --cache-dir is a usage error rather than a half-created run.
 */
export async function workspaceProblem(ws: Workspace, labels: { root: string; cacheDir: string }): Promise<string | undefined> {
  const checks: [string, string][] = [
    [ws.root, labels.root],
    [ws.cacheDir, labels.cacheDir],
    [join(ws.root, '.bdlab'), `the workspace's state directory`],
    [ws.runsDir, `the workspace's runs directory`],
  ];
  for (const [path, label] of checks) {
    const problem = await directoryProblem(path);
    if (problem) return `${label} ${path} ${problem}`;
  }
  return undefined;
}

/** `path` is a directory, or can be created as one; otherwise what is in the way. */
async function directoryProblem(path: string): Promise<string | undefined> {
  for (let current = path; ; current = dirname(current)) {
    const st = await stat(current).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error) {
      if (st.code === 'ENOENT' && dirname(current) !== current) continue;
      if (st.code === 'ENOTDIR') continue;
      return `cannot be used (${st.code ?? st.message})`;
    }
    if (st.isDirectory()) return undefined;
    return current === path ? 'is a file, not a directory' : `cannot be created: ${current} is a file, not a directory`;
  }
}
