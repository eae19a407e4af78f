// npm's prepare step: compiles the TypeScript and the native kernels after `npm ci` / `npm install`.
//
// Skipped when npm runs it for `npx bdlab` (npm_command "exec"): npx does not run a project's own
// command from node_modules/.bin but links the checkout into its cache as a package and prepares
// it again, a full tsc and node-gyp build (22 s of the quick start on a fresh clone) of a checkout
// that `npm ci` has just built.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.env.npm_command === 'exec') process.exit(0);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [command, args] of [['tsc', ['-p', 'tsconfig.json']], [process.execPath, [join('scripts', 'build-native.mjs')]]]) {
  // npm puts node_modules/.bin on PATH for its scripts; the shell resolves tsc there.
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: command === 'tsc' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
