import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemasDir as defaultSchemasDir } from '../common/paths.js';
import type { StageKindInfo } from './types.js';

export type StageKind = StageKindInfo & { schema: object };

const SCHEMA_SUFFIX = '.schema.json';

/** A stage schema file that cannot be used; reported only when a pipeline uses that kind. */
export interface BrokenStageKind {
  kind: string;
  schemaFile: string;
  message: string;
}

export interface StageKindCatalog {
  kinds: Map<string, StageKind>;
  broken: Map<string, BrokenStageKind>;
}

/** Reads schemas/stages/*.schema.json; the file name (minus the suffix) is the kind name. */
export function readStageKinds(schemasDir: string = defaultSchemasDir()): StageKindCatalog {
  const directory = join(schemasDir, 'stages');
  const kinds = new Map<string, StageKind>();
  const broken = new Map<string, BrokenStageKind>();
  let files: string[];
  try {
    files = readdirSync(directory).filter((name) => name.endsWith(SCHEMA_SUFFIX)).sort();
  } catch {
    return { kinds, broken };
  }
  for (const name of files) {
    const kind = name.slice(0, -SCHEMA_SUFFIX.length);
    const schemaFile = join(directory, name);
    let schema: unknown;
    try {
      schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    } catch (error) {
      broken.set(kind, { kind, schemaFile, message: `is not valid JSON (${(error as Error).message})` });
      continue;
    }
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      broken.set(kind, { kind, schemaFile, message: 'must contain a JSON Schema object' });
      continue;
    }
    const version = (schema as Record<string, unknown>)['x-bdlab-version'];
    if ((typeof version !== 'string' && typeof version !== 'number') || String(version) === '') {
      broken.set(kind, { kind, schemaFile, message: 'lacks "x-bdlab-version" (the implementation version that goes into cache keys), e.g. "x-bdlab-version": "1"' });
      continue;
    }
    kinds.set(kind, { kind, version: String(version), schemaFile, schema });
  }
  return { kinds, broken };
}

/**
 * The usable stage kinds and their params schemas. A broken schema file is left out here (so an
 * unrelated broken kind cannot stop a run); the analyzer reports it where a pipeline uses it.
 */
export function loadStageKinds(schemasDir?: string): Map<string, StageKind> {
  return readStageKinds(schemasDir).kinds;
}
