import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveTrigger } from '../../src/ml/trigger-names.js';

test('named positions land on the corners and the centre of a 32x32 image', () => {
  assert.equal(resolveTrigger({ position: 'top-left', color: 'white' }, 32, 32), { row: 0, col: 0, color: [255, 255, 255] });
  assert.equal(resolveTrigger({ position: 'top-right', color: 'white' }, 32, 32), { row: 0, col: 31, color: [255, 255, 255] });
  assert.equal(resolveTrigger({ position: 'bottom-left', color: 'white' }, 32, 32), { row: 31, col: 0, color: [255, 255, 255] });
  assert.equal(resolveTrigger({ position: 'bottom-right', color: 'black' }, 32, 32), { row: 31, col: 31, color: [0, 0, 0] });
  assert.equal(resolveTrigger({ position: 'center', color: 'magenta' }, 32, 32), { row: 16, col: 16, color: [255, 0, 255] });
});

test('the <colour>-<position> shorthand equals the object form, also for odd sizes', () => {
  assert.equal(resolveTrigger('magenta-center', 32, 32), { row: 16, col: 16, color: [255, 0, 255] });
  assert.equal(resolveTrigger('white-bottom-right', 5, 7), { row: 4, col: 6, color: [255, 255, 255] });
  assert.equal(resolveTrigger('cyan-center', 5, 7), { row: 2, col: 3, color: [0, 255, 255] });
});

test('explicit rows, columns and RGB pass through unchanged', () => {
  assert.equal(resolveTrigger({ row: 3, col: 9, color: [1, 2, 3] }, 32, 32), { row: 3, col: 9, color: [1, 2, 3] });
});

test('unknown names and mixed forms are refused with the valid choices', () => {
  assert.throws(() => resolveTrigger('purple-center', 32, 32), /unknown trigger colour "purple"; valid: white, black/);
  assert.throws(() => resolveTrigger('white-middle', 32, 32), /unknown trigger position "middle"; valid: top-left, top-right/);
  assert.throws(() => resolveTrigger('white', 32, 32), /not of the form <colour>-<position>/);
  assert.throws(() => resolveTrigger({ position: 'center', row: 1, color: 'white' }, 32, 32), /either position or row and col/);
});

test.run();
