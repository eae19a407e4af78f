// Compiles bdlab's native kernels (native/) for this machine with node-gyp, which npm ships. They are
// optional: when the compiler, make or Node's headers are missing, training uses the WebAssembly
// kernels, so a failed build warns and exits 0 instead of failing `npm ci`. BDLAB_NATIVE=0 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const warn = (message) => process.stderr.write(`bdlab: native kernels not built: ${message}; training will use the WebAssembly kernels instead.\n`);

if (process.env.BDLAB_NATIVE === '0') {
  process.stderr.write('bdlab: BDLAB_NATIVE=0, native kernels not built.\n');
  process.exit(0);
}

const nodeGyp = process.env.npm_config_node_gyp;
if (!nodeGyp || !existsSync(nodeGyp)) {
  warn('node-gyp not found (run this through npm: npm run build:native)');
  process.exit(0);
}
// Build against the headers of the Node.js that runs us (no download: machines may be offline).
const prefix = dirname(dirname(process.execPath));
const headers = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const args = [nodeGyp, 'rebuild', '--directory', join(root, 'native'), ...(headers ? [`--nodedir=${headers}`] : [])];
const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.status !== 0) {
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => /error/i.test(l)).slice(0, 5);
  warn(`node-gyp exited with ${result.status ?? result.signal}${lines.length ? `:\n  ${lines.join('\n  ')}` : ''}`);
  process.exit(0);
}
process.stderr.write('bdlab: native kernels built (native/build/Release/bdlab_kernels.node).\n');
