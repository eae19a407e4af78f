import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENTRY_FILE, type CacheEntryMeta } from '../../src/executor/cache.js';
import type { Manifest } from '../../src/executor/manifest.js';
import { runCli, runManifests, tempWorkspace } from '../executor/helpers.js';

const latestManifest = async (dir: string): Promise<Manifest> => (await runManifests(dir)).at(-1)!;

const PIPELINE = `name: rebuild
stages:
  data: { kind: fetch, params: { dataset: synthetic, synthetic: { train: 256, test: 32, seed: 3 } } }
  model:
    kind: train
    needs: [data]
    params: { model: lenet5, epochs: 2, batch_size: 32, learning_rate: 0.01, seed: 5 }
  search:
    kind: one-pixel-search
    needs: [model, data]
    params: { images: 2, population: 20, generations: 3, seed: 1, examples: 1 }
  after: { kind: test-files, needs: [search] }
`;

async function entryOf(dir: string, key: string): Promise<CacheEntryMeta> {
  return JSON.parse(await readFile(join(dir, '.bdlab', 'cache', key.slice(0, 2), key, ENTRY_FILE), 'utf8')) as CacheEntryMeta;
}

test('one-pixel-search rebuilt with --force: the same content hash, so its dependents stay cached; timing is in the stage metrics only', async () => {
  const ws = await tempWorkspace('bdlab-search-rebuild-');
  try {
    await ws.write('p.yaml', PIPELINE);
    const first = await runCli(['run', 'p.yaml'], ws.dir);
    assert.is(first.code, 0, first.stdout + first.stderr);
    const key = (await latestManifest(ws.dir)).instances['search']!.cacheKey!;
    const built = await entryOf(ws.dir, key);
    const outputs = JSON.parse(await readFile(join(ws.dir, '.bdlab', 'cache', key.slice(0, 2), key, 'outputs', 'metrics.json'), 'utf8')) as Record<string, unknown>;
    assert.not.ok('searchSeconds' in outputs || 'imagesPerMinute' in outputs, 'no timing in the cached metrics.json');
    assert.ok((built.metrics?.['searchSeconds'] as number) > 0, 'timing in the entry\'s stage metrics');

    const again = await runCli(['run', 'p.yaml', '--force', 'search'], ws.dir);
    assert.is(again.code, 0, again.stdout + again.stderr);
    const rebuilt = await entryOf(ws.dir, key);
    assert.is.not(rebuilt.createdAt, built.createdAt, 'the search ran again');
    assert.is(rebuilt.contentHash, built.contentHash);
    const m = await latestManifest(ws.dir);
    assert.equal(Object.fromEntries(Object.entries(m.instances).map(([id, r]) => [id, r.status])), { data: 'cached', model: 'cached', search: 'succeeded', after: 'cached' });
  } finally {
    await ws.cleanup();
  }
});

test.run();
