import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('wasm kernels give correct results when their own allocations grow the heap (stale-view pitfall)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/heap-growth.js', import.meta.url));
  // The wasm kernels beneath the native ones are what this guards; the native kernels allocate nothing on the heap.
  const child = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, BDLAB_NATIVE: '0' } });
  assert.is(child.status, 0, `fixture failed: ${child.stderr}`);
  const results = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, { grew: boolean; maxAbs: number; rel: number }>;
  for (const [kernel, r] of Object.entries(results)) {
    assert.ok(r.grew, `${kernel}: the heap did not grow during the kernel, so the case no longer tests stale views`);
    assert.ok(r.rel <= 5e-5, `${kernel}: max abs ${r.maxAbs}, rel ${r.rel}`);
  }
  assert.equal(Object.keys(results).sort(), ['Conv2DBackpropFilter', 'Conv2DBackpropFilter/gemm', 'Conv2DBackpropInput', 'MaxPoolGrad', 'Transpose']);
});

test.run();
