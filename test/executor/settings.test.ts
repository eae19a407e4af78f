import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { delimiter } from 'node:path';
import type { Plan, PlannedInstance } from '../../src/pipeline/types.js';
import { resolveSelection } from '../../src/executor/selection.js';
import { resolveSettings } from '../../src/executor/settings.js';

const base = { cliDataPath: [] as string[], env: {}, pipeline: {}, workspaceRoot: '/ws', cwd: '/cwd' };

test('backend: command line > BDLAB_BACKEND > settings.backend > auto', () => {
  assert.is(resolveSettings(base).backend, 'auto');
  assert.is(resolveSettings({ ...base, pipeline: { backend: 'wasm' } }).backend, 'wasm');
  assert.is(resolveSettings({ ...base, pipeline: { backend: 'wasm' }, env: { BDLAB_BACKEND: 'cpu' } }).backend, 'cpu');
  assert.is(resolveSettings({ ...base, pipeline: { backend: 'wasm' }, env: { BDLAB_BACKEND: 'cpu' }, cliBackend: 'node' }).backend, 'node');
});

test('executor: --executor > settings.executor > local; settings.slurm passes through', () => {
  assert.is(resolveSettings(base).executor, 'local');
  assert.equal(resolveSettings(base).slurm, {});
  const pipeline = { executor: 'slurm', slurm: { partition: 'gpu', retries: 2 } };
  assert.is(resolveSettings({ ...base, pipeline }).executor, 'slurm');
  assert.is(resolveSettings({ ...base, pipeline, cliExecutor: 'local' }).executor, 'local');
  assert.equal(resolveSettings({ ...base, pipeline }).slurm, { partition: 'gpu', retries: 2 });
});

test('data path: CLI dirs, then BDLAB_DATA_PATH (relative to cwd), then settings.data_path (relative to workspace); cache_dir relative to workspace', () => {
  const r = resolveSettings({
    ...base,
    cliDataPath: ['/abs/cli'],
    env: { BDLAB_DATA_PATH: ['env1', '/abs/env2', ''].join(delimiter) },
    pipeline: { data_path: ['../shared/datasets', '/abs/cli'], cache_dir: 'cache-here' },
  });
  assert.equal(r.dataPath, ['/abs/cli', '/cwd/env1', '/abs/env2', '/shared/datasets']);
  assert.is(r.cacheDir, '/ws/cache-here');
  assert.is(resolveSettings({ ...base, cliCacheDir: '/x', pipeline: { cache_dir: 'y' } }).cacheDir, '/x');
  assert.is(resolveSettings(base).cacheDir, undefined);
});

function inst(id: string, stage: string, inputs: string[]): PlannedInstance {
  return { id, stage, kind: 'k', matrix: {}, params: {}, inputs } as unknown as PlannedInstance;
}

test('--only takes stage or instance ids and adds what they need; unknown ids are explained', () => {
  const plan = {
    name: 'p',
    file: '/ws/p.yaml',
    settings: {},
    instances: [inst('data', 'data', []), inst('train[m=a]', 'train', ['data']), inst('train[m=b]', 'train', ['data']), inst('eval[m=a]', 'eval', ['train[m=a]']), inst('other', 'other', [])],
  } as unknown as Plan;
  const only = resolveSelection(plan, ['eval'], ['train[m=b]']);
  assert.ok(only.ok);
  if (only.ok) {
    assert.equal([...only.value.selected].sort(), ['data', 'eval[m=a]', 'train[m=a]']);
    assert.equal([...only.value.forced], ['train[m=b]']);
  }
  const all = resolveSelection(plan, [], ['train']);
  assert.ok(all.ok && all.value.selected.size === 5 && all.value.forced.size === 2);
  const bad = resolveSelection(plan, ['trian'], []);
  assert.equal(bad, { ok: false, error: '--only trian: no stage or instance of that name in /ws/p.yaml; stages are: data, train, eval, other (or an instance id such as train[m=a])' });
});

test.run();
