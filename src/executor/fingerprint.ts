import { createHash } from 'node:crypto';
import type { JsonObject } from '../common/json.js';
import { canonicalJson } from '../pipeline/index.js';

/** sha256 hex of a FingerprintRecord: names a cache entry. */
export type CacheKey = string & { readonly __brand: 'CacheKey' };
/** sha256 hex over a directory tree's file list (see tree-hash.ts): names a stage's actual output. */
export type ContentHash = string & { readonly __brand: 'ContentHash' };

/** One upstream output as it enters a key. */
export interface FingerprintInput {
  /**
   * The upstream's own cache key: it changes whenever anything that produced the upstream changed,
   * which keeps keys distinct even for upstreams whose outputs happen to be byte-identical.
   */
  key: CacheKey;
  /**
   * The hash of the files the upstream actually produced. Stages such as training are not
   * bit-reproducible, so a rebuilt upstream with the same key can still yield different bytes;
   * the downstream must then rebuild because its real input changed.
   */
  contentHash: ContentHash;
}

/**
 * Everything that determines a stage instance's outputs, and nothing else. Deliberately absent:
 * the instance id and matrix point (two instances with equal params and inputs may share one
 * entry), the pipeline file's text (comments and formatting don't change results), the data path
 * and backend (environment, not experiment definition).
 */
export interface FingerprintRecord {
  /** Layout version of this record: changing the record's shape must never collide with old keys. */
  format: 'bdlab-cache-key/1';
  /** Different implementations never share outputs. */
  kind: string;
  /** `x-bdlab-version` of the kind's schema: bumped when the stage's behaviour changes, invalidating old outputs. */
  version: string;
  /** Resolved params as canonical JSON (sorted keys), so key order, comments and YAML style don't matter. */
  params: string;
  /** In the order the stage sees them (ctx.inputs), because order can change what a stage does. */
  inputs: FingerprintInput[];
}

export function fingerprintRecord(kind: string, version: string, params: JsonObject, inputs: FingerprintInput[]): FingerprintRecord {
  return { format: 'bdlab-cache-key/1', kind, version, params: canonicalJson(params), inputs };
}

export function cacheKeyOf(record: FingerprintRecord): CacheKey {
  const json = canonicalJson({
    format: record.format,
    kind: record.kind,
    version: record.version,
    params: record.params,
    inputs: record.inputs.map((i) => ({ key: i.key, contentHash: i.contentHash })),
  });
  return createHash('sha256').update(json).digest('hex') as CacheKey;
}

export function shortKey(key: string): string {
  return key.slice(0, 10);
}
