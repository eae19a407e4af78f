import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Writes `text` to `file` unless it already holds exactly that; returns whether it wrote. Generated
 * files keep their mtime when nothing changed, so builds and editors don't see a change.
 */
export function writeIfChanged(file: string, text: string): boolean {
  let previous: string | undefined;
  try {
    previous = readFileSync(file, 'utf8');
  } catch {
    previous = undefined;
  }
  if (previous === text) return false;
  writeFileSync(file, text);
  return true;
}
