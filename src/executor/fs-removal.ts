import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';

/** True when `err` is a Node system error with this code (ENOENT, EXDEV, ...). */
export function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * Removes a directory by first renaming it to a unique sibling (`<path>.<tag>.<pid>.<random>`), then
 * deleting that. The rename is atomic, so the path disappears at once and a new directory created
 * there meanwhile (a fresh cache entry or lock) is never hit by the slow recursive delete.
 * A path that is already gone is fine.
 */
export async function removeByRenamingAside(path: string, tag: string): Promise<void> {
  const aside = `${path}.${tag}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return;
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
}
