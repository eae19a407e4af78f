import type { Plan } from '../pipeline/types.js';
import type { CacheStore } from './cache.js';
import { cacheKeyOf, fingerprintRecord, type CacheKey, type ContentHash } from './fingerprint.js';
import type { Selection } from './selection.js';

export type PlannedStatus = 'cached' | 'will run' | 'forced' | 'corrupt';

export interface PlanRow {
  id: string;
  kind: string;
  status: PlannedStatus;
  /** Unknown until every upstream output exists (its content is part of the key). */
  key: CacheKey | null;
  /** Why the instance will run, when that is not simply "not in the cache". */
  note?: string;
}

/** What `bdlab run` would do now: the selected instances in execution order with their cache state. */
export async function planStatus(plan: Plan, versions: ReadonlyMap<string, string>, cache: CacheStore, selection: Selection): Promise<PlanRow[]> {
  const known = new Map<string, { key: CacheKey; contentHash: ContentHash }>();
  const rows: PlanRow[] = [];
  for (const inst of plan.instances) {
    if (!selection.selected.has(inst.id)) continue;
    const inputs = inst.inputs.map((id) => known.get(id));
    const version = versions.get(inst.kind);
    if (version === undefined || inputs.some((i) => i === undefined)) {
      rows.push({ id: inst.id, kind: inst.kind, status: 'will run', key: null, note: 'an upstream will run first' });
      continue;
    }
    const key = cacheKeyOf(fingerprintRecord(inst.kind, version, inst.params, inputs as { key: CacheKey; contentHash: ContentHash }[]));
    if (selection.forced.has(inst.id)) {
      rows.push({ id: inst.id, kind: inst.kind, status: 'forced', key, note: '--force' });
      continue;
    }
    const found = await cache.lookup(key);
    if (found.status === 'hit') {
      known.set(inst.id, { key, contentHash: found.entry.meta.contentHash });
      rows.push({ id: inst.id, kind: inst.kind, status: 'cached', key });
    } else if (found.status === 'corrupt') {
      rows.push({ id: inst.id, kind: inst.kind, status: 'corrupt', key, note: `cache entry corrupt: ${found.reason}` });
    } else {
      rows.push({ id: inst.id, kind: inst.kind, status: 'will run', key });
    }
  }
  return rows;
}
