import { isAbsolute, normalize, resolve } from 'node:path';
import { quoteValue } from '../common/display-text.js';
import { InputFileError, readRegularFile } from '../common/read-bounded.js';
import type { ValidateFunction } from 'ajv';
import type { JsonObject, JsonValue } from '../common/json.js';
import { schemasDir as defaultSchemasDir } from '../common/paths.js';
import { fail, ok } from '../common/result.js';
import type { Result } from '../common/result.js';
import { canonicalJson } from './canonical-json.js';
import { mergeDefaults } from './defaults.js';
import type { AnalysisFailure } from './diagnostics.js';
import { expandStage, tupleKey } from './expand.js';
import type { StageExpansion } from './expand.js';
import { planStageGraph } from './graph.js';
import type { NeedEdge } from './graph.js';
import { formatMatrixValue } from './instance-id.js';
import { DEFAULT_MAX_INSTANCES, stageBound, type StageBound } from './instance-count.js';
import { expandMatrixValues } from './matrix-range.js';
import { isJsonObject, pipelineStructureSchema } from './pipeline-structure.js';
import { explainSchemaErrors } from './schema-messages.js';
import type { SchemaProblem } from './schema-messages.js';
import type { StageResources } from './resources.js';
import { formatYamlPath, SourceFile } from './source-map.js';
import type { YamlPath } from './source-map.js';
import { readStageKinds } from './stage-kinds.js';
import type { StageKindCatalog } from './stage-kinds.js';
import { didYouMean, suggestionAndChoices } from './suggest.js';
import { compileTemplate } from './template.js';
import type { ParamsTemplate } from './template.js';
import type { Diagnostic, MatrixValue, Plan, PlannedInstance, SourceRange, StageId } from './types.js';
import { compileSchema, stageParamsValidator } from './validators.js';

/**
 * Reads, validates and plans a pipeline file. On failure, every problem found in the file is
 * returned together (syntax, structure, kinds, needs, cycles, matrices, params).
 */
/** Largest pipeline file read; far above any hand-written or generated pipeline. */
export const MAX_PIPELINE_BYTES = 64 * 1024 * 1024;

export async function analyzePipeline(file: string, options: AnalysisOptions = {}): Promise<Result<Plan, AnalysisFailure>> {
  let text: string;
  try {
    text = (await readRegularFile(file, MAX_PIPELINE_BYTES)).toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'the file does not exist' : error instanceof InputFileError ? error.message : (error as Error).message;
    return fail({ file, diagnostics: [{ severity: 'error', path: '(document)', message: `cannot read the pipeline file: ${reason}; pass the path of a pipeline YAML file, e.g. pipelines/quickstart.yaml` }] });
  }
  return analyzePipelineText(file, text, options);
}

export interface AnalysisOptions {
  schemasDir?: string;
  /** Most instances a pipeline may expand to (default DEFAULT_MAX_INSTANCES). */
  maxInstances?: number;
}

/** The same analysis on text already in memory; `file` is used for messages and `Plan.file`. */
export function analyzePipelineText(file: string, text: string, options: AnalysisOptions = {}): Result<Plan, AnalysisFailure> {
  return new Analysis(file, text, readStageKinds(options.schemasDir ?? defaultSchemasDir()), options.maxInstances ?? DEFAULT_MAX_INSTANCES).run();
}

/** True for a relative path that stays below its base however the base is chosen (no leading `..`). */
export function isInsideWorkspace(path: string): boolean {
  if (isAbsolute(path) || /^[A-Za-z]:/.test(path) || path.startsWith('~')) return false;
  const normal = normalize(path);
  return normal !== '..' && !normal.startsWith('../') && !normal.startsWith('..\\');
}

function formatCount(n: number): string {
  return n >= 1e15 ? n.toExponential(2) : Math.round(n).toLocaleString('en-US');
}

let structureValidator: ValidateFunction | undefined;

/** What analysis knows about one stage after reading the (possibly partly invalid) document. */
interface StageModel {
  id: StageId;
  kind?: string;
  needs: NeedEdge[];
  ownKeys: string[];
  ownValues: MatrixValue[][];
  exclude: Record<string, MatrixValue>[];
  params: JsonObject;
  /** `params` was written but is not a mapping: nothing about params can be checked. */
  paramsUnreadable?: boolean;
  resources?: StageResources;
}

class Analysis {
  private readonly source: SourceFile;
  private readonly diagnostics: Diagnostic[] = [];
  private readonly broken = new Set<string>();
  private data: JsonValue = null;

  constructor(private readonly file: string, private readonly text: string, private readonly catalog: StageKindCatalog, private readonly maxInstances: number) {
    this.source = new SourceFile(file, text);
  }

  run(): Result<Plan, AnalysisFailure> {
    this.diagnostics.push(...this.source.syntaxDiagnostics());
    if (this.source.hasFatalSyntaxErrors()) return this.finish(undefined);
    let data: JsonValue;
    try {
      data = this.data = this.source.toJson();
    } catch (error) {
      this.error([], `the YAML cannot be expanded: ${(error as Error).message}`);
      return this.finish(undefined);
    }
    if (data === null) {
      // Located at 1:1 like every other diagnostic, so editors and CI annotators can place it.
      const start = { line: 1, col: 1 };
      this.error([], 'the file has no content: a pipeline needs at least "name" and "stages" (see docs/pipeline-format.md)', { location: { file: this.file, start, end: start } });
      return this.finish(undefined);
    }
    this.checkStructure(data);
    if (!isJsonObject(data)) return this.finish(undefined);
    // Infinity and NaN have no JSON form: nothing after this point (params hashing) could handle them.
    if (!this.checkFiniteNumbers(data, [])) return this.finish(undefined);
    this.checkSettingsPaths(data);

    const defaults = isJsonObject(data['defaults']) ? data['defaults'] : {};
    const stages = isJsonObject(data['stages']) ? data['stages'] : {};
    const models = Object.entries(stages).map(([id, raw]) => this.readStage(id as StageId, raw));
    this.checkDefaultsKinds(defaults);

    const graph = planStageGraph(
      models.map((model) => model.id),
      new Map(models.map((model) => [model.id as string, model.needs])),
      this.source,
      this.broken,
    );
    this.diagnostics.push(...graph.diagnostics);

    const byId = new Map(models.map((model) => [model.id as string, model]));
    if (!this.checkInstanceCount(graph.order.map((id) => byId.get(id)!), stages)) return this.finish(undefined);
    const expansions = new Map<string, StageExpansion>();
    const instances: PlannedInstance[] = [];
    const templateOf = (model: StageModel): ParamsTemplate => {
      const kindDefaults = model.kind !== undefined && isJsonObject(defaults[model.kind]) ? (defaults[model.kind] as JsonObject) : undefined;
      return compileTemplate(mergeDefaults(kindDefaults, model.params));
    };
    for (const id of graph.order) {
      const model = byId.get(id)!;
      if (model.needs.some((edge) => !expansions.has(edge.stage))) continue;
      const { expansion, problems } = expandStage(model, expansions);
      // A whole-stage problem points at the stage id rather than at its (possibly many-line) body.
      for (const problem of problems) this.error(problem.path, problem.message, { key: problem.path.length === 2 });
      if (!expansion) continue;
      expansions.set(id, expansion);
      const template = templateOf(model);
      if (!this.checkTemplate(model, template, expansion.keys)) continue;
      const kind = model.kind === undefined ? undefined : this.catalog.kinds.get(model.kind);
      if (!kind || this.broken.has(id)) continue;
      const validate = stageParamsValidator(kind.schemaFile, kind.schema);
      // No spread: 10^5 arguments overflow the stack.
      for (const instance of this.planInstances(model, template, expansion, validate)) instances.push(instance);
    }
    // Stages that could not be expanded still get their params expressions checked, so one run shows all problems.
    for (const model of models) {
      if (expansions.has(model.id)) continue;
      const upstream = model.needs.map((edge) => expansions.get(edge.stage));
      if (upstream.some((expansion) => expansion === undefined)) continue;
      const keys = [...model.ownKeys];
      upstream.forEach((expansion, index) => {
        const fanIn = model.needs[index]!.fanIn;
        for (const key of expansion!.keys) if (fanIn !== true && !(Array.isArray(fanIn) && fanIn.includes(key)) && !keys.includes(key)) keys.push(key);
      });
      const template = templateOf(model);
      if (this.checkTemplate(model, template, keys) && template.constant) this.checkConstantParams(model, template);
    }
    // Constant params can be checked even where needs are broken (cycles, unknown stages).
    for (const model of models) {
      if (expansions.has(model.id) || model.needs.every((edge) => expansions.has(edge.stage))) continue;
      const template = templateOf(model);
      if (template.constant) this.checkConstantParams(model, template);
    }
    return this.finish({
      name: typeof data['name'] === 'string' ? data['name'] : '',
      ...(typeof data['description'] === 'string' ? { description: data['description'] } : {}),
      file: resolve(this.file),
      settings: isJsonObject(data['settings']) ? data['settings'] : {},
      instances,
    });
  }

  /** Reports every `.inf`, `.nan` or overflowing literal (`1e400`) in the document; true when there is none. */
  private checkFiniteNumbers(value: JsonValue, path: (string | number)[]): boolean {
    if (typeof value === 'number') {
      if (Number.isFinite(value)) return true;
      const node = this.source.nodeAt(path);
      const written = node?.range ? this.text.slice(node.range[0], node.range[1]).trim() : String(value);
      this.error(path, `${quoteValue(written)} is not a finite number (${Number.isNaN(value) ? 'not a number' : 'it overflows to infinity'}); ` +
        'numbers in a pipeline must be finite, e.g. 1e30 or 0.001');
      return false;
    }
    if (value === null || typeof value !== 'object') return true;
    let finite = true;
    if (Array.isArray(value)) value.forEach((item, index) => { finite = this.checkFiniteNumbers(item, [...path, index]) && finite; });
    else for (const [key, item] of Object.entries(value)) finite = this.checkFiniteNumbers(item, [...path, key]) && finite;
    return finite;
  }

  /**
   * A pipeline file may come from someone else: the directories it names for writing must stay
   * inside the workspace. Whoever runs bdlab can point elsewhere with --cache-dir or BDLAB_CACHE_DIR.
   */
  private checkSettingsPaths(data: JsonObject): void {
    const settings = data['settings'];
    if (!isJsonObject(settings)) return;
    const cacheDir = settings['cache_dir'];
    if (typeof cacheDir !== 'string') return;
    if (isInsideWorkspace(cacheDir)) return;
    this.error(['settings', 'cache_dir'], `settings.cache_dir ${quoteValue(cacheDir)} points outside the workspace; a pipeline file may only name a directory ` +
      'inside the workspace, as a relative path without leading ".." (e.g. .bdlab/cache-large). To use a cache elsewhere, pass --cache-dir DIR or set BDLAB_CACHE_DIR');
  }

  /**
   * Refuses a pipeline whose matrices would expand to more instances than the limit, before
   * expanding anything (see instance-count.ts), naming the stage with the largest matrix.
   */
  private checkInstanceCount(ordered: StageModel[], stages: JsonObject): boolean {
    const bounds = new Map<string, StageBound>();
    let total = 0;
    for (const model of ordered) {
      const raw = stages[model.id];
      const matrix = isJsonObject(raw) && isJsonObject(raw['matrix']) ? raw['matrix'] : {};
      const upstream = model.needs.flatMap((edge) => {
        const bound = bounds.get(edge.stage);
        if (!bound) return [];
        const keys = [...bound.keyValues.keys()];
        const passesKeys = edge.fanIn === true ? [] : edge.fanIn === false ? keys : keys.filter((key) => !(edge.fanIn as string[]).includes(key));
        return [{ bound, passesKeys }];
      });
      const bound = stageBound(matrix, upstream);
      bounds.set(model.id, bound);
      total += bound.instances;
    }
    if (total <= this.maxInstances) return true;
    let worst: StageModel | undefined;
    for (const model of ordered) if (!worst || bounds.get(model.id)!.instances > bounds.get(worst.id)!.instances) worst = model;
    const bound = bounds.get(worst!.id)!;
    const raw = stages[worst!.id];
    const ownMatrix = isJsonObject(raw) && isJsonObject(raw['matrix']) ? raw['matrix'] : undefined;
    const sizes = [...bound.keyValues].map(([key, count]) => `${key} ${count}`).join(' x ');
    this.error(ownMatrix ? ['stages', worst!.id, 'matrix'] : ['stages', worst!.id],
      `the pipeline would have up to ${formatCount(total)} instances, more than the limit of ${formatCount(this.maxInstances)}; ` +
        `stage "${worst!.id}" alone has up to ${formatCount(bound.instances)} (${sizes}). Sweep fewer values, split the pipeline, ` +
        'or raise the limit with BDLAB_MAX_INSTANCES if the machine can hold that many', { key: true });
    return false;
  }

  private finish(plan: Plan | undefined): Result<Plan, AnalysisFailure> {
    const ordered = sortByPosition(this.diagnostics);
    if (plan === undefined || ordered.some((diagnostic) => diagnostic.severity === 'error')) {
      return fail({ file: this.file, diagnostics: ordered, source: this.text });
    }
    return ok(ordered.length > 0 ? { ...plan, warnings: ordered } : plan);
  }

  private error(path: YamlPath, message: string, options: { key?: boolean; location?: SourceRange; related?: Diagnostic['related'] } = {}): void {
    this.diagnostics.push({
      severity: 'error',
      path: formatYamlPath(path),
      message,
      location: options.location ?? this.source.locate(path, { key: options.key }),
      ...(options.related ? { related: options.related } : {}),
    });
  }

  private checkStructure(data: JsonValue): void {
    structureValidator ??= compileSchema(pipelineStructureSchema());
    if (structureValidator(data)) return;
    for (const problem of explainSchemaErrors(structureValidator.errors ?? [], data)) {
      this.error(problem.path, problem.message, { key: problem.atKey });
      // A stage with a malformed part stays in the graph (so `needs` of others resolve) but is not planned.
      if (problem.path[0] === 'stages' && problem.path.length >= 2) this.broken.add(String(problem.path[1]));
    }
  }

  /** Reads a stage defensively: structural problems were reported already, here they only make it unplannable. */
  private readStage(id: StageId, raw: JsonValue): StageModel {
    const model: StageModel = { id, needs: [], ownKeys: [], ownValues: [], exclude: [], params: {} };
    if (!isJsonObject(raw)) {
      this.broken.add(id);
      return model;
    }
    if (typeof raw['kind'] === 'string') {
      model.kind = raw['kind'];
      this.checkKind(id, model.kind);
    }
    if (Array.isArray(raw['needs'])) {
      raw['needs'].forEach((need, index) => {
        const path = ['stages', id, 'needs', index];
        if (typeof need === 'string') model.needs.push({ stage: need, fanIn: false, path });
        else if (isJsonObject(need) && typeof need['stage'] === 'string') {
          const fanIn = need['fan_in'];
          const gathered = Array.isArray(fanIn) ? fanIn.filter((key): key is string => typeof key === 'string') : fanIn === true;
          model.needs.push({ stage: need['stage'], fanIn: gathered, path });
        }
      });
    }
    if (isJsonObject(raw['matrix'])) {
      for (const [key, entry] of Object.entries(raw['matrix'])) {
        const expanded = expandMatrixValues(entry, ['stages', id, 'matrix', key]);
        for (const problem of expanded.problems) this.error(problem.path, problem.message);
        if (expanded.problems.length > 0) this.broken.add(id);
        this.checkDuplicateValues(id, key, expanded.values, expanded.sources);
        model.ownKeys.push(key);
        model.ownValues.push(expanded.values);
      }
    }
    if (Array.isArray(raw['exclude'])) {
      raw['exclude'].forEach((rule, index) => {
        if (!isJsonObject(rule)) return;
        const entries = Object.entries(rule).filter((entry): entry is [string, MatrixValue] => entry[1] === null || typeof entry[1] !== 'object');
        for (const [key] of entries) {
          if (!model.ownKeys.includes(key)) {
            this.error(['stages', id, 'exclude', index, key], `exclude refers to matrix key "${key}", which is not in the stage's own matrix${didYouMean(key, model.ownKeys)}`, { key: true });
            this.broken.add(id);
          }
        }
        model.exclude.push(Object.fromEntries(entries));
      });
    }
    if (isJsonObject(raw['resources'])) model.resources = deepFreeze(raw['resources']) as StageResources;
    if (isJsonObject(raw['params'])) model.params = raw['params'];
    else if (raw['params'] !== undefined) model.paramsUnreadable = true;
    return model;
  }

  private checkKind(id: StageId, kind: string): void {
    const path = ['stages', id, 'kind'];
    const broken = this.catalog.broken.get(kind);
    if (broken) {
      this.error(path, `stage kind "${kind}" cannot be used: its schema ${broken.schemaFile} ${broken.message}`);
      this.broken.add(id);
    } else if (!this.catalog.kinds.has(kind)) {
      this.error(path, `unknown stage kind "${kind}"${suggestionAndChoices(kind, [...this.catalog.kinds.keys()], 'kinds')}`);
      this.broken.add(id);
    }
  }

  private checkDefaultsKinds(defaults: JsonObject): void {
    const valid = [...this.catalog.kinds.keys(), ...this.catalog.broken.keys()];
    for (const kind of Object.keys(defaults)) {
      if (valid.includes(kind)) continue;
      this.error(['defaults', kind], `defaults for unknown stage kind "${kind}"${suggestionAndChoices(kind, valid, 'kinds')}`, { key: true });
    }
  }

  private checkDuplicateValues(id: StageId, key: string, values: MatrixValue[], sources: YamlPath[]): void {
    const seen = new Set<string>();
    values.forEach((value, index) => {
      const identity = JSON.stringify(value);
      if (seen.has(identity)) {
        this.error(sources[index]!, `matrix key "${key}" lists ${formatMatrixValue(value)} twice; each value may appear once`);
        this.broken.add(id);
      }
      seen.add(identity);
    });
  }

  /** Expression syntax and references to matrix keys the stage doesn't have (own or inherited). */
  private checkTemplate(model: StageModel, template: ParamsTemplate, keys: readonly string[]): boolean {
    for (const problem of template.problems) this.paramsError(model, problem.paramsPath, problem.message);
    let valid = template.problems.length === 0;
    for (const reference of template.references) {
      if (keys.includes(reference.key)) continue;
      valid = false;
      const available = keys.length === 0
        ? `stage "${model.id}" has no matrix keys (neither its own nor inherited through needs)`
        : `its keys are ${keys.join(', ')}${didYouMean(reference.key, keys)}`;
      this.paramsError(model, reference.paramsPath, `\${{ matrix.${reference.key} }} refers to a matrix key that stage "${model.id}" does not have; ${available}`);
    }
    return valid;
  }

  private paramsError(model: StageModel, paramsPath: YamlPath, message: string, options: { key?: boolean; related?: Diagnostic['related'] } = {}): void {
    const location = this.paramsLocation(model, paramsPath, options.key ?? false);
    this.error(['stages', model.id, 'params', ...paramsPath], message, { location, ...(options.related ? { related: options.related } : {}) });
  }

  /** A resolved param comes from the stage's params, else from `defaults.<kind>`: point at whichever wrote it. */
  private paramsLocation(model: StageModel, paramsPath: YamlPath, key: boolean): SourceRange | undefined {
    const own = ['stages', model.id, 'params', ...paramsPath];
    return (
      this.source.locateExact(own, { key }) ??
      (model.kind !== undefined ? this.source.locateExact(['defaults', model.kind, ...paramsPath], { key }) : undefined) ??
      this.source.locate(own)
    );
  }

  private checkConstantParams(model: StageModel, template: ParamsTemplate): void {
    const kind = model.kind === undefined ? undefined : this.catalog.kinds.get(model.kind);
    if (!kind || model.paramsUnreadable) return;
    const validate = stageParamsValidator(kind.schemaFile, kind.schema);
    const params = JSON.parse(canonicalJson(template.resolve({}))) as JsonObject;
    if (validate(params)) return;
    for (const problem of explainSchemaErrors(validate.errors ?? [], params)) this.paramsError(model, problem.path, problem.message, { key: problem.atKey });
  }

  private planInstances(model: StageModel, template: ParamsTemplate, expansion: StageExpansion, validate: ValidateFunction): PlannedInstance[] {
    // Resolved params depend only on the referenced matrix values: instances that agree on them share
    // one params object, validated once.
    const referenced = [...new Set(template.references.map((reference) => reference.key))];
    const checked = new Map<string, { params: JsonObject; problems: SchemaProblem[] }>();
    const failures = new Map<string, { problem: SchemaProblem; first: number; count: number }>();
    const planned: PlannedInstance[] = [];
    expansion.points.forEach((point, index) => {
      const identity = tupleKey(point, referenced);
      let result = checked.get(identity);
      if (!result) {
        // Fresh along every substituted path; constant subtrees are shared between instances, which is
        // safe because ajv fills the same schema defaults into them every time, and they end up frozen.
        const params = template.resolve(point);
        const problems = validate(params) ? [] : explainSchemaErrors(validate.errors ?? [], params);
        result = { params: deepFreeze(params), problems };
        checked.set(identity, result);
      }
      for (const problem of result.problems) {
        const key = problem.path.join('\u0000') + '\u0001' + problem.message;
        const failure = failures.get(key);
        if (failure) failure.count++;
        else failures.set(key, { problem, first: index, count: 1 });
      }
      planned.push({
        id: expansion.ids[index]!,
        stage: model.id,
        kind: model.kind!,
        matrix: point,
        params: result.params,
        inputs: expansion.inputs[index]!,
        ...(model.resources ? { resources: model.resources } : {}),
      });
    });
    for (const { problem, first, count } of failures.values()) {
      const scope = expansion.keys.length === 0 ? '' : count === 1 ? ` in ${expansion.ids[first]}` : ` in ${expansion.ids[first]} and ${count - 1} more instance${count === 2 ? '' : 's'}`;
      this.paramsError(model, problem.path, problem.message + scope, {
        key: problem.atKey,
        related: this.matrixOrigin(template, expansion, problem.path, first),
      });
    }
    return planned;
  }

  /** For a param produced by `${{ matrix.k }}`, the matrix value that produced it. */
  private matrixOrigin(template: ParamsTemplate, expansion: StageExpansion, paramsPath: YamlPath, instance: number): Diagnostic['related'] {
    const wanted = paramsPath.join('\u0000');
    const reference = template.references.find((candidate) => candidate.paramsPath.join('\u0000') === wanted);
    if (!reference) return undefined;
    const origin = expansion.keyOrigin.get(reference.key);
    const value = expansion.points[instance]![reference.key];
    if (origin === undefined || value === undefined) return undefined;
    const path = ['stages', origin, 'matrix', reference.key];
    const expanded = expandMatrixValues(this.matrixEntry(origin, reference.key), path);
    const position = expanded.values.findIndex((candidate) => JSON.stringify(candidate) === JSON.stringify(value));
    if (!this.source.nodeAt(path) || position < 0) return undefined;
    return [{ message: `matrix.${reference.key} = ${formatMatrixValue(value)} comes from here`, location: this.source.locate(expanded.sources[position]!) }];
  }

  /** The matrix entry of a key as written: a list of values and generators, or one generator. */
  private matrixEntry(stage: string, key: string): JsonValue {
    const data = this.data;
    const stages = isJsonObject(data) && isJsonObject(data['stages']) ? data['stages'] : {};
    const raw = stages[stage];
    const matrix = isJsonObject(raw) && isJsonObject(raw['matrix']) ? raw['matrix'] : {};
    return matrix[key] ?? [];
  }
}

function deepFreeze<T extends JsonValue>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

function sortByPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  const rank = (diagnostic: Diagnostic): number =>
    diagnostic.location ? diagnostic.location.start.line * 1e6 + diagnostic.location.start.col : -1;
  return diagnostics.map((diagnostic, index) => ({ diagnostic, index })).sort((a, b) => rank(a.diagnostic) - rank(b.diagnostic) || a.index - b.index).map(({ diagnostic }) => diagnostic);
}

