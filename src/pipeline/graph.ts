import type { SourceFile, YamlPath } from './source-map.js';
import { formatYamlPath } from './source-map.js';
import { didYouMean } from './suggest.js';
import type { Diagnostic } from './types.js';

/** One `needs` entry, normalised. */
export interface NeedEdge {
  stage: string;
  /** false: fan-out; true: gather all instances; list: gather over these keys only. */
  fanIn: boolean | string[];
  /** Where the entry is in the YAML. */
  path: YamlPath;
}

export interface StageGraph {
  /** Stages that can be planned, upstream before downstream, declaration order otherwise. */
  order: string[];
  diagnostics: Diagnostic[];
}

/** Checks every `needs` entry and orders the stages; stages in or behind a broken edge are left out of `order`. */
export function planStageGraph(
  stageIds: readonly string[],
  needs: ReadonlyMap<string, NeedEdge[]>,
  source: SourceFile,
  alreadyBroken: ReadonlySet<string> = new Set(),
): StageGraph {
  const diagnostics: Diagnostic[] = [];
  const known = new Set(stageIds);
  const blocked = new Set<string>(alreadyBroken);
  const edges = new Map<string, NeedEdge[]>();

  for (const id of stageIds) {
    const valid: NeedEdge[] = [];
    const seen = new Set<string>();
    for (const edge of needs.get(id) ?? []) {
      const location = source.locate(edge.path);
      const path = formatYamlPath(edge.path);
      if (edge.stage === id) {
        diagnostics.push({ severity: 'error', path, message: `stage "${id}" needs itself; a stage can only need other stages`, location });
        blocked.add(id);
      } else if (!known.has(edge.stage)) {
        const others = stageIds.filter((other) => other !== id);
        diagnostics.push({ severity: 'error', path, message: `stage "${id}" needs "${edge.stage}", which is not defined in stages${didYouMean(edge.stage, others)}`, location });
        blocked.add(id);
      } else if (seen.has(edge.stage)) {
        diagnostics.push({ severity: 'error', path, message: `stage "${id}" lists "${edge.stage}" in needs more than once`, location });
        blocked.add(id);
      } else {
        seen.add(edge.stage);
        valid.push(edge);
      }
    }
    edges.set(id, valid);
  }

  for (const cycle of findCycles(stageIds, edges)) {
    const steps = cycle.map((from, index) => {
      const to = cycle[(index + 1) % cycle.length]!;
      const edge = edges.get(from)!.find((candidate) => candidate.stage === to)!;
      return { from, to, location: source.locate(edge.path), path: edge.path };
    });
    diagnostics.push({
      severity: 'error',
      path: formatYamlPath(steps[0]!.path),
      message: `needs form a cycle: ${[...cycle, cycle[0]].join(' -> ')} (each stage needs the next), so no stage of it can ever start`,
      location: steps[0]!.location,
      related: steps.map((step) => ({ message: `"${step.from}" needs "${step.to}" here`, location: step.location })),
    });
    for (const id of cycle) blocked.add(id);
  }

  // Kahn's algorithm, always taking the earliest-declared ready stage, so the order is stable.
  const order: string[] = [];
  const placed = new Set<string>();
  const remaining = stageIds.filter((id) => !blocked.has(id));
  let progress = true;
  while (progress) {
    progress = false;
    for (let index = 0; index < remaining.length; index++) {
      const id = remaining[index]!;
      const upstream = edges.get(id) ?? [];
      if (upstream.some((edge) => blocked.has(edge.stage))) {
        blocked.add(id);
        remaining.splice(index, 1);
        progress = true;
        break;
      }
      if (upstream.every((edge) => placed.has(edge.stage))) {
        order.push(id);
        placed.add(id);
        remaining.splice(index, 1);
        progress = true;
        break;
      }
    }
  }
  return { order, diagnostics };
}

/** One simple cycle per strongly connected component (Tarjan), starting at its earliest-declared stage. */
function findCycles(stageIds: readonly string[], edges: ReadonlyMap<string, NeedEdge[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  const connect = (id: string): void => {
    index.set(id, counter);
    low.set(id, counter);
    counter++;
    stack.push(id);
    onStack.add(id);
    for (const edge of edges.get(id) ?? []) {
      if (!index.has(edge.stage)) {
        connect(edge.stage);
        low.set(id, Math.min(low.get(id)!, low.get(edge.stage)!));
      } else if (onStack.has(edge.stage)) {
        low.set(id, Math.min(low.get(id)!, index.get(edge.stage)!));
      }
    }
    if (low.get(id) === index.get(id)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== id);
      if (component.length > 1) components.push(component);
    }
  };
  for (const id of stageIds) if (!index.has(id)) connect(id);

  const declared = new Map(stageIds.map((id, position) => [id, position]));
  return components
    .map((component) => {
      const members = new Set(component);
      const start = [...component].sort((a, b) => declared.get(a)! - declared.get(b)!)[0]!;
      // Breadth-first search inside the component for the shortest way back to the start.
      const previous = new Map<string, string>();
      const queue = [start];
      while (queue.length > 0) {
        const current = queue.shift()!;
        for (const edge of edges.get(current) ?? []) {
          if (!members.has(edge.stage)) continue;
          if (edge.stage === start) {
            const path = [current];
            while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
            return path;
          }
          if (!previous.has(edge.stage)) {
            previous.set(edge.stage, current);
            queue.push(edge.stage);
          }
        }
      }
      return [start];
    })
    .sort((a, b) => declared.get(a[0]!)! - declared.get(b[0]!)!);
}
