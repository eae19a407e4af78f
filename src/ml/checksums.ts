import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Official SHA-256 of the six CIFAR-10 binary data files (each 30,730,000 bytes). */
export const CIFAR10_SHA256: Readonly<Record<string, string>> = {
  'data_batch_1.bin': 'cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5',
  'data_batch_2.bin': 'a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed',
  'data_batch_3.bin': 'bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67',
  'data_batch_4.bin': '014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48',
  'data_batch_5.bin': '755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add',
  'test_batch.bin': '8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b',
};
export const CIFAR10_FILE_BYTES = 30_730_000;

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Streams the file through the hash so large files never sit in memory twice. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ChecksumMismatch {
  file: string;
  expected: string;
  actual: string;
}

/**
 * Compares actual hashes against the expected table; files absent from `actual` are reported with
 * actual = 'missing'. Returns the mismatches (empty when all match).
 */
export function compareChecksums(actual: ReadonlyMap<string, string>, expected: Readonly<Record<string, string>> = CIFAR10_SHA256): ChecksumMismatch[] {
  const mismatches: ChecksumMismatch[] = [];
  for (const [file, want] of Object.entries(expected)) {
    const got = actual.get(file) ?? 'missing';
    if (got !== want) mismatches.push({ file, expected: want, actual: got });
  }
  return mismatches;
}

/** One readable paragraph for a user: which files, expected and actual hashes, and what to do. */
export function describeMismatches(mismatches: ChecksumMismatch[], where: string): string {
  const items = mismatches.map((m) => `${m.file}: expected sha256 ${m.expected}, got ${m.actual}`).join('; ');
  return (
    `CIFAR-10 data in ${where} failed SHA-256 verification (${items}). ` +
    'The file is corrupt, truncated or not the official CIFAR-10 binary release; delete it and download ' +
    'cifar-10-binary.tar.gz again from https://www.cs.toronto.edu/~kriz/cifar-10.html (or set verify: false to skip the check at your own risk).'
  );
}
