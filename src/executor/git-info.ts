import { dirname } from 'node:path';

export interface GitInfo {
  commit: string;
  /** The pipeline file differs from the commit (modified, staged or untracked). */
  dirty: boolean;
}

/** Git state of the pipeline file, for the manifest; null outside a repository or without git. */
export async function gitInfoOf(file: string): Promise<GitInfo | null> {
  const cwd = dirname(file);
  try {
    const { execa } = await import('execa');
    const head = await execa('git', ['rev-parse', 'HEAD'], { cwd, reject: false, timeout: 5000 });
    if (head.exitCode !== 0) return null;
    const status = await execa('git', ['status', '--porcelain', '--', file], { cwd, reject: false, timeout: 5000 });
    if (status.exitCode !== 0) return null;
    return { commit: head.stdout.trim(), dirty: status.stdout.trim().length > 0 };
  } catch {
    return null;
  }
}
