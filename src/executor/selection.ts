import type { Plan } from '../pipeline/types.js';
import { fail, ok, type Result } from '../common/result.js';

export interface Selection {
  /** Instances the run covers: the --only targets and everything they need (all when no --only). */
  selected: Set<string>;
  /** Instances rebuilt even when cached. */
  forced: Set<string>;
}

/**
 * Resolves `--only` and `--force` arguments. Each argument is an instance id
 * (`train[model=cnn]`) or a stage id (`train`, meaning all of its instances).
 */
export function resolveSelection(plan: Plan, only: readonly string[], force: readonly string[]): Result<Selection, string> {
  const byStage = new Map<string, string[]>();
  const byId = new Map(plan.instances.map((i) => [i.id as string, i]));
  for (const inst of plan.instances) {
    const list = byStage.get(inst.stage) ?? [];
    list.push(inst.id);
    byStage.set(inst.stage, list);
  }
  const expand = (arg: string, option: string): Result<string[], string> => {
    if (byId.has(arg)) return ok([arg]);
    const ofStage = byStage.get(arg);
    if (ofStage) return ok(ofStage);
    const stages = [...byStage.keys()].join(', ');
    const example = plan.instances.find((i) => i.id.includes('['))?.id;
    return fail(`${option} ${arg}: no stage or instance of that name in ${plan.file}; stages are: ${stages}${example ? ` (or an instance id such as ${example})` : ''}`);
  };
  const collect = (args: readonly string[], option: string): Result<Set<string>, string> => {
    const out = new Set<string>();
    for (const arg of args) {
      const r = expand(arg, option);
      if (!r.ok) return r;
      for (const id of r.value) out.add(id);
    }
    return ok(out);
  };
  const forced = collect(force, '--force');
  if (!forced.ok) return forced;
  if (only.length === 0) return ok({ selected: new Set(byId.keys()), forced: forced.value });
  const targets = collect(only, '--only');
  if (!targets.ok) return targets;
  const selected = new Set<string>();
  const stack = [...targets.value];
  while (stack.length) {
    const id = stack.pop()!;
    if (selected.has(id)) continue;
    selected.add(id);
    stack.push(...byId.get(id)!.inputs);
  }
  return ok({ selected, forced: forced.value });
}
