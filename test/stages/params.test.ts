import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/common/paths.js';
import { renderStageParamsModule, stageParamsModuleFile } from '../../src/pipeline/stage-params-module.js';
import { StageError } from '../../src/common/stage-contract.js';
import { defineStage, withDefaults } from '../../src/stages/params.js';
import { testStageContext } from '../helpers/cifar-fixture.js';

test('src/stages/params.generated.ts is up to date with schemas/stages (regenerate: node dist/src/pipeline/generate-schema.js)', () => {
  const actual = readFileSync(stageParamsModuleFile(), 'utf8');
  assert.ok(actual === renderStageParamsModule(), 'src/stages/params.generated.ts is stale: run `npx tsc -p tsconfig.json; node dist/src/pipeline/generate-schema.js`');
});

test('withDefaults fills every default of the schema, nested ones included, and keeps what was written', () => {
  const filled = withDefaults('train', { model: 'lenet5', epochs: 3 });
  assert.equal(filled, {
    model: 'lenet5', epochs: 3, width: 1, batch_size: 64, optimizer: 'adam', learning_rate: 0.001, momentum: 0.9,
    weight_decay: 0, schedule: { type: 'constant' }, augment: { crop_padding: 0, flip: false }, validation_split: 0, seed: 0,
  });
  const written = { model: 'cnn' as const };
  withDefaults('train', written);
  assert.equal(written, { model: 'cnn' }, 'the caller\'s object is not changed');
});

test('withDefaults rejects params the schema rejects, naming the param', () => {
  assert.throws(() => withDefaults('train', { model: 'cnn', epochs: 0 }), (e: Error) => e instanceof StageError && /epochs: must be integer >= 1 \(got 0\)/.test(e.message));
  assert.throws(() => withDefaults('evaluate', { batchsize: 8 } as never), (e: Error) => e instanceof StageError && /unknown property "batchsize"; did you mean "batch_size"/.test(e.message));
});

test('a stage defined with defineStage sees filled params', async () => {
  let seen: unknown;
  const stage = defineStage('evaluate')({ async run(params) { seen = params; return {}; } });
  await stage.run({ limit: 5 }, testStageContext('/nonexistent', '/nonexistent'));
  assert.equal(seen, { limit: 5, batch_size: 256, only_correct: false });
});

test('a planned stage runs without loading the validator: its params are used as the plan has them', async () => {
  let seen: unknown;
  const stage = defineStage('evaluate')({ run: async (params) => { seen = params; return {}; } });
  // No defaults filled in and no check: the analyzer did both when it made the plan.
  await stage.runPlanned!({ limit: 5 }, testStageContext('/nonexistent', '/nonexistent'));
  assert.equal(seen, { limit: 5 });
  // In a fresh process (as a stage runs), loading a stage module does not load ajv; validating does.
  const probe = (validate: boolean): string => {
    const script = `const { createRequire } = await import('node:module');
      await import(${JSON.stringify(join(packageRoot(), 'dist', 'src', 'stages', 'poison.js'))});
      ${validate ? `(await import(${JSON.stringify(join(packageRoot(), 'dist', 'src', 'stages', 'params.js'))})).withDefaults('poison', {});` : ''}
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('/node_modules/ajv/'));
      console.log(loaded ? 'ajv loaded' : 'ajv not loaded');`;
    return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).stdout.trim();
  };
  assert.is(probe(false), 'ajv not loaded');
  assert.is(probe(true), 'ajv loaded');
});

test.run();
