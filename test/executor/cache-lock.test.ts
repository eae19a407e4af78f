import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { CacheStore } from '../../src/executor/cache.js';
import type { CacheKey } from '../../src/executor/fingerprint.js';
import { HashMemo } from '../../src/executor/hash-memo.js';
import { LockManager } from '../../src/executor/lock.js';
import { tempWorkspace } from './helpers.js';

const KEY = 'ab'.padEnd(64, '0') as CacheKey;

test('commit renames a finished entry into place; lookup verifies it; edits make it corrupt', async () => {
  const ws = await tempWorkspace();
  try {
    const memo = await HashMemo.load(join(ws.dir, 'memo.json'));
    const cache = new CacheStore(join(ws.dir, 'cache'), join(ws.dir, 'tmp'), memo);
    assert.equal(await cache.lookup(KEY), { status: 'miss' });
    const pending = await cache.createPending(KEY);
    await writeFile(join(pending.outputsDir, 'model.json'), '{"w":[1,2,3]}');
    const entry = await cache.commit(pending, { kind: 'k', instance: 'i', metrics: { acc: 0.9 } });
    assert.is(entry.dir, join(ws.dir, 'cache', 'ab', KEY));
    assert.equal(await readdir(join(ws.dir, 'tmp')), [], 'temp dir moved away');
    const hit = await cache.lookup(KEY);
    assert.is(hit.status, 'hit');
    if (hit.status === 'hit') assert.equal(hit.entry.meta.metrics, { acc: 0.9 });

    await writeFile(join(entry.outputsDir, 'model.json'), '{"w":[1,2,4]}');
    const corrupt = await cache.lookup(KEY);
    assert.equal(corrupt, { status: 'corrupt', reason: 'outputs/model.json changed content (sha256 mismatch)' });
    await writeFile(join(entry.outputsDir, 'model.json'), '{"w":[1,2,3]}');
    await writeFile(join(entry.outputsDir, 'extra.txt'), 'x');
    assert.equal(await cache.lookup(KEY), { status: 'corrupt', reason: 'unexpected file outputs/extra.txt' });

    // Rebuilding over a corrupt entry replaces it.
    const again = await cache.createPending(KEY);
    await writeFile(join(again.outputsDir, 'model.json'), '{"w":[1,2,3]}');
    await cache.commit(again, { kind: 'k', instance: 'i' });
    assert.is((await cache.lookup(KEY)).status, 'hit');
    assert.equal(await cache.listKeys(), [KEY]);
  } finally {
    await ws.cleanup();
  }
});

test('a second acquirer waits for the lock; a dead holder\'s lock is broken at once', async () => {
  const ws = await tempWorkspace();
  try {
    const locks = new LockManager(join(ws.dir, 'locks'), { maxPollMs: 20 });
    const signal = new AbortController().signal;
    const release = await locks.acquire(KEY, signal);
    let waited = 0;
    let second = false;
    const pending = locks.acquire(KEY, signal, () => (waited += 1)).then((r) => {
      second = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    assert.is(second, false, 'still waiting while held');
    assert.is(waited, 1);
    await release();
    const release2 = await pending;
    assert.is(second, true);
    await release2();

    // A lock left by a process that no longer exists (kill -9): its pid is dead.
    const dead = execaNode('-e', [''], { reject: false });
    const deadPid = dead.pid!;
    await dead;
    await mkdir(join(ws.dir, 'locks', `${KEY}.lock`));
    await writeFile(join(ws.dir, 'locks', `${KEY}.lock`, 'owner.json'), JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), since: '' }));
    const t0 = Date.now();
    const release3 = await locks.acquire(KEY, signal);
    assert.ok(Date.now() - t0 < 2000, 'did not wait for the stale timeout');
    await release3();

    const aborter = new AbortController();
    const held = await locks.acquire(KEY, signal);
    const waiting = locks.acquire(KEY, aborter.signal);
    setTimeout(() => aborter.abort(new Error('stop')), 50);
    const rejected = await waiting.then(() => false, (err: Error) => err.message === 'stop');
    assert.ok(rejected, 'an aborted wait rejects with the abort reason');
    await held();
  } finally {
    await ws.cleanup();
  }
});

test.run();
