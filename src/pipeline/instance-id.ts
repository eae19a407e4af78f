import { createHash } from 'node:crypto';
import type { InstanceId, MatrixPoint, MatrixValue, StageId } from './types.js';

/** Strings that read back as themselves: anything else is quoted so `"0.1"` and `0.1` stay distinct ids. */
const BARE_STRING = /^[A-Za-z_][A-Za-z0-9._+-]*$/;
const RESERVED_BARE = new Set(['true', 'false', 'null']);

export function formatMatrixValue(value: MatrixValue): string {
  if (typeof value === 'string') {
    return BARE_STRING.test(value) && !RESERVED_BARE.has(value) ? value : JSON.stringify(value);
  }
  return String(value);
}

/** `stage[k=v,k2=v2]` in the point's key order; the bare stage id when the point is empty. */
export function formatInstanceId(stage: StageId, point: MatrixPoint): InstanceId {
  const keys = Object.keys(point);
  if (keys.length === 0) return stage as string as InstanceId;
  const parts = keys.map((key) => `${key}=${formatMatrixValue(point[key]!)}`);
  return `${stage}[${parts.join(',')}]` as InstanceId;
}

/** Characters that are kept: portable across Linux, macOS and Windows and harmless in shells. */
const SAFE_CHAR = /[a-z0-9._=,+-]/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;
const MAX_NAME_LENGTH = 120;

/**
 * A directory name for an instance: `train[model=cnn,rate=0.1]` -> `train@model=cnn,rate=0.1`.
 * Other characters become `%XX` (UTF-8 bytes), which keeps the mapping injective. Names that could
 * still clash on case-insensitive file systems (uppercase), Windows device names and overlong ids
 * get `~` plus a hash of the full id, and `~` never appears otherwise.
 */
export function sanitizeInstanceId(id: InstanceId): string {
  const bracket = id.indexOf('[');
  const readable = bracket < 0 ? id : id.slice(0, bracket) + '@' + id.slice(bracket + 1, id.endsWith(']') ? -1 : undefined);
  let name = '';
  let needsHash = false;
  for (const char of readable) {
    if (SAFE_CHAR.test(char) || (char === '@' && name.length === bracket)) {
      name += char;
    } else if (/[A-Z]/.test(char)) {
      name += char;
      needsHash = true;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) name += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  if (name.startsWith('.') || WINDOWS_RESERVED.test(name)) needsHash = true;
  if (name.length > MAX_NAME_LENGTH) {
    name = name.slice(0, MAX_NAME_LENGTH);
    needsHash = true;
  }
  if (!needsHash) return name;
  return name + '~' + createHash('sha256').update(id).digest('hex').slice(0, 10);
}
