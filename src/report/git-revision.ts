import { dirname, relative, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fail, ok, type Result } from '../common/result.js';

export interface FileAtRevision {
  text: string;
  /** The full commit id the revision named. */
  commit: string;
  /** The file's path inside the repository (what `git show <commit>:<path>` was given). */
  pathInRepo: string;
}

async function git(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execa } = await import('execa');
  const r = await execa('git', args, { cwd, reject: false, timeout: 10_000, stripFinalNewline: false });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * A file as it was at a git revision, read with `git show <commit>:<path>`: the working tree is
 * never checked out or touched. `file` may be absent from the working tree (deleted since).
 */
export async function readFileAtRevision(file: string, revision: string): Promise<Result<FileAtRevision, string>> {
  const absolute = resolve(file);
  let cwd = dirname(absolute);
  while (!existsSync(cwd) && dirname(cwd) !== cwd) cwd = dirname(cwd);
  let top;
  try {
    top = await git(['rev-parse', '--show-toplevel'], cwd);
  } catch {
    return fail(`cannot read ${file} at "${revision}": git is not installed or could not be started`);
  }
  if (top.code !== 0) return fail(`cannot read ${file} at "${revision}": ${cwd} is not inside a git repository`);
  const root = top.stdout.trim();
  const pathInRepo = relative(root, absolute).split('\\').join('/');
  const commit = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`], root);
  if (commit.code !== 0) return fail(`"${revision}" is neither a run (see "bdlab runs") nor a git revision of ${root} (a commit, branch or tag such as HEAD~1)`);
  const id = commit.stdout.trim();
  const shown = await git(['show', `${id}:${pathInRepo}`], root);
  if (shown.code !== 0) return fail(`${pathInRepo} does not exist at git revision "${revision}" (${id.slice(0, 10)})`);
  return ok({ text: shown.stdout, commit: id, pathInRepo });
}
