import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { InstanceRef } from '../../src/report/instances.js';
import { describeMatrix, instanceLabels, varyingKeys } from '../../src/report/labels.js';
import { resolveSweepKey } from '../../src/report/sweep.js';
import { escapeHtml } from '../../src/report/html.js';
import { slug } from '../../src/report/charts.js';
import { estimateTextWidth } from '../../src/report/text-width.js';

const ref = (stage: string, kind: string, matrix: InstanceRef['matrix'], id = stage + JSON.stringify(matrix)): InstanceRef =>
  ({ id, stage, kind, matrix, dir: '/nowhere' });

test('varyingKeys keeps keys with two or more values, in first-seen order, ignoring absence', () => {
  assert.equal(varyingKeys([
    { model: 'cnn', data: 'dirty', rate: 0.1 },
    { model: 'vgg16', data: 'dirty', rate: 0.01 },
    { model: 'cnn' },
  ]), ['model', 'rate']);
  assert.equal(varyingKeys([{ a: 1 }, { a: 1 }]), []);
  assert.equal(varyingKeys([{ flag: true }, { flag: 'true' }]), ['flag'], 'true and "true" differ');
});

test('describeMatrix: words bare, numbers, booleans and null with their key', () => {
  assert.is(describeMatrix({ model: 'lenet5', rate: 0.01, clean: false, seed: null }, ['model', 'rate', 'clean', 'seed']),
    'lenet5 · rate=0.01 · clean=false · seed=null');
  assert.is(describeMatrix({ model: 'lenet5' }, ['rate']), '');
});

test('instanceLabels: varying values, search suffix, stage id fallback, collisions resolved', () => {
  const labels = instanceLabels([
    ref('evaluate', 'evaluate', { model: 'lenet5', data: 'dirty' }),
    ref('evaluate', 'evaluate', { model: 'cnn', data: 'dirty' }),
    ref('search', 'one-pixel-search', { model: 'cnn' }),
  ]);
  assert.equal([...labels.values()], ['lenet5', 'cnn', 'cnn · search']);
  assert.equal([...instanceLabels([ref('baseline', 'evaluate', {})]).values()], ['baseline']);
  const collide = instanceLabels([
    ref('evaluate', 'evaluate', { model: 'cnn', rate: 0.1 }),
    ref('evaluate-clean', 'evaluate', { model: 'cnn', rate: 0.2 }),
    ref('evaluate-clean', 'evaluate', { model: 'cnn', rate: 0.1 }),
  ]);
  assert.equal([...collide.values()], ['evaluate: rate=0.1', 'rate=0.2', 'evaluate-clean: rate=0.1']);
  const same = instanceLabels([ref('e', 'evaluate', { m: 'a' }, 'id-1'), ref('e', 'evaluate', { m: 'a' }, 'id-2')]);
  assert.equal([...same.values()], ['id-1', 'id-2'], 'indistinguishable instances fall back to their ids');
});

test('resolveSweepKey picks rate by itself, other numeric keys only when named, skips keys that do not vary', () => {
  const points = [{ model: 'a', rate: 0.1, pos: 3 }, { model: 'b', rate: 0.2, pos: 5 }];
  assert.equal(resolveSweepKey(points, undefined), { ok: true, value: 'rate' });
  assert.equal(resolveSweepKey(points, 'pos'), { ok: true, value: 'pos' });
  assert.equal(resolveSweepKey([{ pos: 1 }, { pos: 2, model: 'x' }], undefined), { ok: true, value: undefined });
  assert.equal(resolveSweepKey([{ pos: 1 }, { pos: 2, model: 'x' }], 'pos'), { ok: true, value: 'pos' });
  assert.equal(resolveSweepKey([{ rate: 0.1 }, { rate: 0.1 }], undefined), { ok: true, value: undefined });
  assert.equal(resolveSweepKey([{ rate: 0.1 }, { rate: 0.1 }], 'rate'), { ok: true, value: undefined });
  assert.equal(resolveSweepKey([{ model: 'a' }, { model: 'b' }], undefined), { ok: true, value: undefined });
  const missing = resolveSweepKey(points, 'epochs');
  assert.ok(!missing.ok && missing.error.includes('valid keys here are: model, pos, rate'));
});

test('escapeHtml, slug and text widths', () => {
  assert.is(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  assert.is(slug('ResNet34 · rate=0.01 / clean'), 'resnet34-rate-0.01-clean');
  assert.is(slug('···'), 'instance');
  const narrow = estimateTextWidth('iiii', 10);
  const wide = estimateTextWidth('MMMM', 10);
  assert.ok(narrow < wide && narrow > 0, `${narrow} < ${wide}`);
  assert.ok(estimateTextWidth('Model', 12, true) > estimateTextWidth('Model', 12));
  // DejaVu Sans digits advance 0.636 em; the estimate must be within 3 % of it
  assert.ok(Math.abs(estimateTextWidth('0123456789', 10) - 63.6) < 2);
});

test.run();
