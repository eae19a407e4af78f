// Links this checkout's own command into node_modules/.bin, so that `npx bdlab` in the checkout runs
// it at once. npm links the bins of dependencies there but not the project's own; without the link,
// the first `npx bdlab` after `npm ci` "installed" the checkout into npm's npx cache, resolving all
// its dependencies against the registry (22 s on a fresh clone here, and a write outside the checkout).
import { mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bins = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin ?? {};
const binDir = join(root, 'node_modules', '.bin');
for (const [name, file] of Object.entries(bins)) {
  const link = join(binDir, name);
  const target = relative(binDir, join(root, file));
  try {
    if (readlinkSync(link) === target) continue;
    rmSync(link, { force: true });
  } catch {
    // no link yet (or a plain file, which symlinkSync below reports)
  }
  try {
    mkdirSync(binDir, { recursive: true });
    symlinkSync(target, link);
  } catch (error) {
    process.stderr.write(`bdlab: could not link ${link} (${error.message}); run the CLI as "node bin/bdlab.js" instead of "npx bdlab".\n`);
  }
}
