import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Ajv from 'ajv';
import { schemasDir } from '../../src/common/paths.js';

const schema = JSON.parse(readFileSync(join(schemasDir(), 'stages', 'plot.schema.json'), 'utf8')) as Record<string, unknown>;

test('plot schema: draft-07, versioned, closed, every property described', () => {
  assert.is(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.match(String(schema['x-bdlab-version']), /^[1-9][0-9]*$/);
  assert.is(schema.additionalProperties, false);
  const properties = schema.properties as Record<string, { description?: string }>;
  assert.equal(Object.keys(properties).sort(), ['formats', 'scale', 'title', 'x_key']);
  for (const [name, p] of Object.entries(properties)) assert.ok((p.description ?? '').length > 20, name);
});

test('plot schema accepts the documented params, fills defaults, rejects the rest', () => {
  const ajv = new Ajv.default({ useDefaults: true, allErrors: true });
  ajv.addKeyword('x-bdlab-version');
  const validate = ajv.compile(schema);
  const empty: Record<string, unknown> = {};
  assert.ok(validate(empty));
  assert.equal(empty, { formats: ['svg', 'png'], scale: 2 });
  assert.ok(validate({ formats: ['png'], title: 'Sweep', x_key: 'rate', scale: 3 }));
  for (const bad of [{ formats: [] }, { formats: ['pdf'] }, { formats: ['svg', 'svg'] }, { scale: 0 }, { scale: 20 }, { title: '' }, { colour: 'red' }]) {
    assert.not.ok(validate(bad), JSON.stringify(bad));
  }
});

test.run();
