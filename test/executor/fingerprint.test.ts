import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { utimes, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheKeyOf, fingerprintRecord, type CacheKey, type ContentHash } from '../../src/executor/fingerprint.js';
import { HashMemo } from '../../src/executor/hash-memo.js';
import { hashTree } from '../../src/executor/tree-hash.js';
import { tempWorkspace } from './helpers.js';

const upstream = { key: 'a'.repeat(64) as CacheKey, contentHash: 'b'.repeat(64) as ContentHash };

test('cache key ignores params key order but not values, version, kind or inputs', () => {
  const base = cacheKeyOf(fingerprintRecord('train', '1', { epochs: 2, model: 'cnn' }, [upstream]));
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.is(cacheKeyOf(fingerprintRecord('train', '1', { model: 'cnn', epochs: 2 }, [upstream])), base);
  assert.is.not(cacheKeyOf(fingerprintRecord('train', '1', { epochs: 3, model: 'cnn' }, [upstream])), base);
  assert.is.not(cacheKeyOf(fingerprintRecord('train', '2', { epochs: 2, model: 'cnn' }, [upstream])), base);
  assert.is.not(cacheKeyOf(fingerprintRecord('evaluate', '1', { epochs: 2, model: 'cnn' }, [upstream])), base);
  assert.is.not(cacheKeyOf(fingerprintRecord('train', '1', { epochs: 2, model: 'cnn' }, [])), base);
});

test('same upstream key with different upstream content gives a different key', () => {
  const a = cacheKeyOf(fingerprintRecord('eval', '1', {}, [upstream]));
  const b = cacheKeyOf(fingerprintRecord('eval', '1', {}, [{ ...upstream, contentHash: 'c'.repeat(64) as ContentHash }]));
  assert.is.not(a, b);
  const two = [upstream, { key: 'd'.repeat(64) as CacheKey, contentHash: 'e'.repeat(64) as ContentHash }];
  assert.is.not(cacheKeyOf(fingerprintRecord('eval', '1', {}, two)), cacheKeyOf(fingerprintRecord('eval', '1', {}, [...two].reverse())), 'input order matters');
});

test('tree hash covers names, sizes and content; the memo never hides an edit', async () => {
  const ws = await tempWorkspace();
  try {
    await ws.write('t/a.txt', 'hello');
    await ws.write('t/sub/b.bin', 'world');
    const memo = await HashMemo.load(join(ws.dir, 'memo.json'));
    const first = await hashTree(join(ws.dir, 't'), memo);
    assert.equal(first.files.map((f) => [f.path, f.size]), [['a.txt', 5], ['sub/b.bin', 5]]);
    assert.is((await hashTree(join(ws.dir, 't'), memo)).contentHash, first.contentHash);
    await memo.save();
    const reloaded = await HashMemo.load(join(ws.dir, 'memo.json'));
    assert.is(reloaded.paths().length, 2);

    // Same size, mtime restored: only ctime betrays the edit, and it must still be seen.
    const file = join(ws.dir, 't/a.txt');
    const before = await stat(file);
    await writeFile(file, 'HELLO');
    await utimes(file, before.atime, before.mtime);
    const edited = await hashTree(join(ws.dir, 't'), reloaded);
    assert.is.not(edited.contentHash, first.contentHash);

    await writeFile(file, 'hello');
    await ws.write('t/renamed.txt', '');
    assert.is.not((await hashTree(join(ws.dir, 't'), reloaded)).contentHash, first.contentHash, 'an added empty file changes the hash');
  } finally {
    await ws.cleanup();
  }
});

test.run();
