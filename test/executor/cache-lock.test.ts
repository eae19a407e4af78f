import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { CacheStore } from '../../src/executor/cache.js';
import type { CacheKey } from '../../src/executor/fingerprint.js';
import { HashMemo } from '../../src/executor/hash-memo.js';
import { LockManager, type LockOwner } from '../../src/executor/lock.js';
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

test('a live holder keeps its lock far beyond the stale limit; a foreign holder is broken only after its heartbeat stops', async () => {
  const ws = await tempWorkspace();
  try {
    const locks = new LockManager(join(ws.dir, 'locks'), { staleMs: 100, maxPollMs: 20 });
    const signal = new AbortController().signal;
    const release = await locks.acquire(KEY, signal);
    let got = false;
    const waiting = locks.acquire(KEY, signal).then((r) => {
      got = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 800));
    assert.is(got, false, 'eight stale limits later the live holder still holds the lock');
    const beat = (JSON.parse(await readFile(join(ws.dir, 'locks', `${KEY}.lock`, 'owner.json'), 'utf8')) as LockOwner).beat!;
    assert.ok(beat >= 3, `the holder's heartbeat ran (${beat} beats)`);
    await release();
    await (await waiting)();
    assert.equal(await readdir(join(ws.dir, 'locks')), [], 'released locks leave no directory behind');

    // A holder on another host: alive while its heartbeat changes, broken once it stops.
    const lockDir = join(ws.dir, 'locks', `${KEY}.lock`);
    await mkdir(lockDir);
    const foreign: LockOwner = { pid: 1, host: 'another-host.invalid', since: '', token: 'f00d', beat: 0 };
    await writeFile(join(lockDir, 'owner.json'), JSON.stringify(foreign));
    const beating = setInterval(() => {
      foreign.beat! += 1;
      writeFileSync(join(lockDir, 'owner.json'), JSON.stringify(foreign));
    }, 30);
    let broke = false;
    const stealing = locks.acquire(KEY, signal).then((r) => {
      broke = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.is(broke, false, 'a foreign holder with a live heartbeat is not broken');
    clearInterval(beating);
    const t0 = Date.now();
    const stolen = await stealing;
    assert.ok(Date.now() - t0 < 2000, 'broken soon after the heartbeat stopped');
    const owner = JSON.parse(await readFile(join(lockDir, 'owner.json'), 'utf8')) as LockOwner;
    assert.is(owner.pid, process.pid);
    await stolen();
  } finally {
    await ws.cleanup();
  }
});

test('an empty lock directory (left by older versions) is broken at once; a release never removes a lock taken over by another', async () => {
  const ws = await tempWorkspace();
  try {
    const locks = new LockManager(join(ws.dir, 'locks'), { staleMs: 600_000, maxPollMs: 20 });
    const signal = new AbortController().signal;
    await mkdir(join(ws.dir, 'locks', `${KEY}.lock`), { recursive: true });
    let waited = false;
    const release = await locks.acquire(KEY, signal, () => (waited = true));
    assert.is(waited, false);
    // Someone decided we were gone and took the lock over: our release must leave theirs alone.
    const lockDir = join(ws.dir, 'locks', `${KEY}.lock`);
    await rm(lockDir, { recursive: true });
    await mkdir(lockDir);
    await writeFile(join(lockDir, 'owner.json'), JSON.stringify({ pid: process.pid, host: 'x', since: '', token: 'other' }));
    await release();
    assert.is((JSON.parse(await readFile(join(lockDir, 'owner.json'), 'utf8')) as LockOwner).token, 'other');
  } finally {
    await ws.cleanup();
  }
});

test.run();
