/**
 * Test aid: a stage kind with no ML in it, so the executor can be exercised (caching, propagation
 * of upstream changes, kills, crashes, failures, progress) in milliseconds. See its schema.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonObject } from '../common/json.js';
import { THREADS_ENV } from '../common/threads.js';
import { StageError } from '../common/stage-contract.js';
import { defineStage } from './params.js';

const testFiles = defineStage('test-files')({
  async run(params, ctx) {
    const steps = params.progress_steps;
    const sleepMs = params.sleep_ms;
    const slices = Math.max(steps, 1);
    for (let i = 0; i < slices; i++) {
      if (sleepMs > 0) await sleep(sleepMs / slices, undefined, params.ignore_abort ? {} : { signal: ctx.signal });
      if (steps > 0) ctx.progress({ message: `step ${i + 1}/${steps}`, fraction: (i + 1) / steps, values: { step: i + 1 } });
    }
    if (params.print !== undefined) process.stdout.write(params.print + '\n');

    for (const [name, content] of Object.entries(params.write)) {
      const target = resolve(ctx.outDir, name);
      if (relative(ctx.outDir, target).startsWith('..')) throw new StageError(`write: "${name}" points outside the outputs directory`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    if (params.copy_inputs) {
      const concatenated: string[] = [];
      for (const [i, input] of ctx.inputs.entries()) {
        await cp(input.dir, join(ctx.outDir, 'inputs', String(i)), { recursive: true });
        for (const file of await listFiles(input.dir)) concatenated.push(await readFile(join(input.dir, file), 'utf8'));
      }
      if (ctx.inputs.length > 0) await writeFile(join(ctx.outDir, 'inputs.txt'), concatenated.join(''));
    }
    if (params.context_file !== undefined) {
      const seen = { id: ctx.id, backend: ctx.backend, dataPath: ctx.dataPath, inputs: ctx.inputs.map((i) => i.id), threads: process.env[THREADS_ENV], ...(ctx.cpus !== undefined ? { cpus: ctx.cpus } : {}) };
      await writeFile(join(ctx.outDir, params.context_file), JSON.stringify(seen));
    }
    ctx.log(`test-files: wrote ${Object.keys(params.write).length} file(s), ${ctx.inputs.length} input(s)`);

    if (params.exit_code !== undefined && params.exit_code !== null) process.exit(params.exit_code);
    if (params.fail) throw new StageError(typeof params.fail === 'string' ? params.fail : `${ctx.id} failed on purpose (fail: true)`);
    // The schema allows any JSON values there.
    return Object.keys(params.metrics).length > 0 ? { metrics: params.metrics as JsonObject } : {};
  },
});

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, path)));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

export default testFiles;
