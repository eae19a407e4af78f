import type { JsonValue } from '../common/json.js';

/**
 * JSON with object keys sorted and no whitespace, so two equal values always give the same text:
 * the executor hashes it into cache keys, so reordering keys in the YAML must not change it.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return primitiveJson(value);
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const item = value[key];
    // Like JSON.stringify, drop properties that hold no JSON value.
    if (item === undefined) continue;
    parts.push(JSON.stringify(key) + ':' + canonicalJson(item));
  }
  return '{' + parts.join(',') + '}';
}

function primitiveJson(value: string | number | boolean | null): string {
  if (typeof value === 'number') {
    // NaN and infinities are not JSON; refusing them beats silently hashing `null`.
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} is not representable in JSON`);
    return Object.is(value, -0) ? '0' : JSON.stringify(value);
  }
  return JSON.stringify(value);
}
