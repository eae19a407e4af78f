import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempWorkspace } from '../executor/helpers.js';

test('bdlab runs, show, compare, diff and report with a file as --workspace: exit 2 naming the file, not "no runs"', async () => {
  const ws = await tempWorkspace('bdlab-notdir-read-');
  try {
    await ws.write('a-file', 'x');
    for (const args of [['runs'], ['show', 'latest'], ['compare', 'latest'], ['diff', 'one', 'two'], ['report', 'latest', '-o', 'page.html']]) {
      const r = await runCli([...args, '--workspace', 'a-file'], ws.dir);
      assert.is(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.is(r.stderr.split('\n')[0], `bdlab ${args[0]}: --workspace ${join(ws.dir, 'a-file')} is a file, not a directory`);
      assert.is(r.stdout, '');
      assert.not.match(r.stderr, 'internal error');
    }
    // A path below the file is just as unusable.
    const below = await runCli(['runs', '--workspace', 'a-file/ws'], ws.dir);
    assert.is(below.code, 2, below.stderr);
    assert.match(below.stderr, `--workspace ${join(ws.dir, 'a-file', 'ws')} cannot be created: ${join(ws.dir, 'a-file')} is a file, not a directory`);
    assert.equal((await readdir(ws.dir)).sort(), ['a-file'], 'nothing was created');
  } finally {
    await ws.cleanup();
  }
});

test('bdlab runs in a workspace without runs still says so, exit 0', async () => {
  const ws = await tempWorkspace('bdlab-empty-read-');
  try {
    const r = await runCli(['runs'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.trim(), `no runs in ${join(ws.dir, 'runs')}`);
  } finally {
    await ws.cleanup();
  }
});

test.run();
