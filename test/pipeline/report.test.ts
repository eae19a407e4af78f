import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ajv } from 'ajv';
import { formatDiagnostics, loadStageKinds } from '../../src/pipeline/index.js';
import { pipelineSchemaFile, renderPipelineSchema } from '../../src/pipeline/generate-schema.js';
import { schemasDir } from '../../src/common/paths.js';
import { workspace, yaml } from './fixtures.js';

const ws = workspace({ broken: '{ "type": "object" }', halfwritten: '{ "type": ' });
test.after(() => ws.cleanup());

test('formatDiagnostics: file:line:col, YAML path, source line with underline, indented related notes, summary', async () => {
  const failure = await ws.failure(yaml(
    'name: p',
    'stages:',
    '  a: { kind: load, needs: [b] }',
    '  b: { kind: load, needs: [a] }',
    '  t:',
    '    kind: fit',
    '    params: { epochs: ten }',
  ));
  const text = formatDiagnostics(failure);
  const file = failure.file;
  assert.is(text, [
    `${file}:3:28: error: needs form a cycle: a -> b -> a (each stage needs the next), so no stage of it can ever start`,
    '  at stages.a.needs[0]',
    '  3 |   a: { kind: load, needs: [b] }',
    '    |                            ^',
    `  ${file}:3:28: note: "a" needs "b" here`,
    '    3 |   a: { kind: load, needs: [b] }',
    '      |                            ^',
    `  ${file}:4:28: note: "b" needs "a" here`,
    '    4 |   b: { kind: load, needs: [a] }',
    '      |                            ^',
    `${file}:7:23: error: must be integer >= 1 (got "ten")`,
    '  at stages.t.params.epochs',
    '  7 |     params: { epochs: ten }',
    '    |                       ^~~',
    `2 errors in ${file}`,
  ].join('\n'));
});

test('formatDiagnostics without source text or location still names the file', () => {
  const text = formatDiagnostics({ file: 'x.yaml', diagnostics: [{ severity: 'error', path: '(document)', message: 'cannot read' }] });
  assert.is(text, 'x.yaml: error: cannot read\n  at (document)\n1 error in x.yaml');
});

test('loadStageKinds reads x-bdlab-version and skips broken schema files; using a broken kind is an error', async () => {
  const kinds = loadStageKinds(ws.schemasDir);
  assert.equal([...kinds.keys()].sort(), ['chart', 'fit', 'load']);
  assert.is(kinds.get('fit')!.version, '3');
  assert.ok(kinds.get('fit')!.schemaFile.endsWith('fit.schema.json'));
  const failure = await ws.failure(yaml('name: p', 'stages:', '  a: { kind: broken }', '  b: { kind: halfwritten }'));
  assert.is(failure.diagnostics.length, 2);
  assert.match(failure.diagnostics[0]!.message, /stage kind "broken" cannot be used: its schema .*broken\.schema\.json lacks "x-bdlab-version"/);
  assert.match(failure.diagnostics[1]!.message, /stage kind "halfwritten" cannot be used: its schema .*halfwritten\.schema\.json is not valid JSON/);
});

test('schemas/pipeline.schema.json is up to date with schemas/stages (regenerate: node dist/src/pipeline/generate-schema.js)', () => {
  const expected = renderPipelineSchema(schemasDir());
  let actual = '';
  try {
    actual = readFileSync(pipelineSchemaFile(schemasDir()), 'utf8');
  } catch {
    actual = '(missing)';
  }
  assert.ok(actual === expected, 'schemas/pipeline.schema.json is stale: run `npm run build && node dist/src/pipeline/generate-schema.js`');
});

test('the editor schema wires each kind to its params schema and accepts ${{ }} where a number is expected', () => {
  const schema = JSON.parse(renderPipelineSchema(ws.schemasDir)) as { definitions: { stage: { allOf: { if: unknown }[]; properties: { kind: { enum: string[] } } } } };
  const ajv = new Ajv({ strict: false, allErrors: true });
  assert.ok(ajv.validateSchema(schema), JSON.stringify(ajv.errors));
  assert.equal(schema.definitions.stage.properties.kind.enum, ['chart', 'fit', 'load']);
  assert.equal(schema.definitions.stage.allOf[1]!.if, { properties: { kind: { const: 'fit' } }, required: ['kind'] });
  // Editors resolve `stages/<kind>.schema.json` next to the pipeline schema; ajv gets them by that name.
  for (const kind of ['chart', 'fit', 'load']) {
    const { $schema: _dialect, ...stageSchema } = JSON.parse(readFileSync(`${ws.schemasDir}/stages/${kind}.schema.json`, 'utf8')) as Record<string, unknown>;
    ajv.addSchema(stageSchema, `stages/${kind}.schema.json`);
  }
  const validate = ajv.compile(schema);
  const pipeline = (epochs: unknown, extra: object = {}) => ({
    name: 'p',
    stages: { t: { kind: 'fit', matrix: { e: [1, 2] }, params: { epochs, ...extra } } },
  });
  assert.ok(validate(pipeline('${{ matrix.e }}')), JSON.stringify(validate.errors));
  assert.ok(validate(pipeline(3)));
  assert.not.ok(validate(pipeline('ten')));
  assert.ok(validate.errors!.some((error) => error.instancePath === '/stages/t/params/epochs'));
  assert.not.ok(validate(pipeline(3, { epoch: 3 })));
  assert.not.ok(validate({ name: 'p', stages: { t: { kind: 'nope' } } }));
});

test.run();
