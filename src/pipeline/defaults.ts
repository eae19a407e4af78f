import type { JsonObject, JsonValue } from '../common/json.js';
import { isJsonObject } from './pipeline-structure.js';

/**
 * `defaults.<kind>` under a stage's own params: mappings merge key by key (recursively),
 * anything else (scalars, lists) from the stage replaces the default outright.
 */
export function mergeDefaults(defaults: JsonObject | undefined, own: JsonObject | undefined): JsonObject {
  return mergeObjects(defaults ?? {}, own ?? {});
}

function mergeObjects(base: JsonObject, over: JsonObject): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const previous: JsonValue | undefined = merged[key];
    merged[key] = isJsonObject(previous) && isJsonObject(value) ? mergeObjects(previous, value) : value;
  }
  return merged;
}
