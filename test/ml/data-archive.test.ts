import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ArchiveError, extractArchiveSafely, readArchiveFiles, unsafeEntryReason } from '../../src/ml/archive.js';
import { makeCifarFixture, makeCifarTarGz, makeTarGz } from '../helpers/cifar-fixture.js';

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bdlab-archive-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('unsafeEntryReason classifies paths and types', () => {
  assert.is(unsafeEntryReason('a/b.bin', 'File'), null);
  assert.is(unsafeEntryReason('a/', 'Directory'), null);
  assert.match(unsafeEntryReason('/etc/x', 'File')!, /absolute/);
  assert.match(unsafeEntryReason('a/../../x', 'File')!, /'\.\.'/);
  assert.match(unsafeEntryReason('C:/x', 'File')!, /absolute/);
  assert.match(unsafeEntryReason('a/link', 'SymbolicLink')!, /SymbolicLink entry/);
  assert.match(unsafeEntryReason('a/dev', 'CharacterDevice')!, /CharacterDevice/);
});

test('readArchiveFiles returns only the wanted files with their bytes', async () => {
  await withTemp(async (dir) => {
    const fixture = makeCifarFixture(2, 2);
    const archive = join(dir, 'c.tar.gz');
    await writeFile(archive, makeCifarTarGz(fixture));
    let lastProgress = 0;
    const files = await readArchiveFiles(archive, {
      wanted: (p) => p.endsWith('.bin'),
      onProgress: (p) => (lastProgress = p.compressedBytesRead / p.compressedBytesTotal),
    });
    assert.equal([...files.keys()].sort(), [
      'cifar-10-batches-bin/data_batch_1.bin', 'cifar-10-batches-bin/data_batch_2.bin', 'cifar-10-batches-bin/data_batch_3.bin',
      'cifar-10-batches-bin/data_batch_4.bin', 'cifar-10-batches-bin/data_batch_5.bin', 'cifar-10-batches-bin/test_batch.bin',
    ]);
    assert.equal(new Uint8Array(files.get('cifar-10-batches-bin/test_batch.bin')!), fixture.files.get('test_batch.bin'));
    assert.is(lastProgress, 1);
  });
});

for (const [name, hostile] of [
  ['parent escape', { path: '../x', content: new Uint8Array([1]) }],
  ['absolute path', { path: '/etc/x', content: new Uint8Array([1]) }],
  ['symlink', { path: 'cifar-10-batches-bin/evil', type: 'symlink', linkpath: '/etc/passwd' }],
  ['hardlink', { path: 'cifar-10-batches-bin/hard', type: 'hardlink', linkpath: 'cifar-10-batches-bin/test_batch.bin' }],
] as const) {
  test(`hostile archive (${name}) is rejected with the entry named and nothing extracted`, async () => {
    await withTemp(async (dir) => {
      const archive = join(dir, 'evil.tar.gz');
      await writeFile(archive, makeCifarTarGz(makeCifarFixture(1, 1), [hostile]));
      const dest = join(dir, 'out');
      try {
        await extractArchiveSafely(archive, dest);
        assert.unreachable('must reject');
      } catch (error) {
        assert.instance(error, ArchiveError);
        assert.match((error as Error).message, `entry '${hostile.path}'`);
        assert.match((error as Error).message, /Refusing to extract/);
      }
      assert.not.ok(existsSync(dest), 'no final directory');
      assert.equal(await readdir(dir), ['evil.tar.gz'], 'no staging leftovers');
      assert.not.ok(existsSync(join(dir, 'x')));
    });
  });
}

test('extractArchiveSafely writes wanted files into the destination', async () => {
  await withTemp(async (dir) => {
    const archive = join(dir, 'ok.tar.gz');
    await writeFile(archive, makeTarGz([{ path: 'd/', type: 'directory' }, { path: 'd/a.txt', content: new TextEncoder().encode('hello') }, { path: 'd/b.txt', content: new Uint8Array([1]) }]));
    const written = await extractArchiveSafely(archive, join(dir, 'out'), { wanted: (p) => p.endsWith('a.txt') });
    assert.equal(written, ['d/a.txt']);
    assert.is(await readFile(join(dir, 'out', 'd', 'a.txt'), 'utf8'), 'hello');
    assert.not.ok(existsSync(join(dir, 'out', 'd', 'b.txt')));
  });
});

test('a truncated archive fails with a clear message', async () => {
  await withTemp(async (dir) => {
    const full = makeCifarTarGz(makeCifarFixture(2, 2));
    const archive = join(dir, 'cut.tar.gz');
    await writeFile(archive, full.subarray(0, Math.floor(full.length / 2)));
    try {
      await readArchiveFiles(archive, { wanted: () => true });
      assert.unreachable('must fail');
    } catch (error) {
      assert.instance(error, ArchiveError);
      assert.match((error as Error).message, /cut.tar.gz/);
    }
  });
});

test.run();
