import { readFileSync } from 'node:fs';

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined
 * where /proc is not available. Recorded next to a pid so that a pid reused by an unrelated process
 * after the recorded one died is not mistaken for it.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this pid exists on this host (EPERM: it exists but isn't ours); with
 * `started`, also that it is the same process that recorded that start time.
 */
export function isAlive(pid: number, started?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EPERM') return false;
  }
  if (started === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === started;
}
