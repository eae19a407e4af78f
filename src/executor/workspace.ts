import { isAbsolute, join, resolve } from 'node:path';

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
