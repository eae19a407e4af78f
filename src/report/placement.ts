import type { TopLevelSpec } from 'vega-lite';
import type { Figure } from './charts.js';
import { arrange } from './grouping.js';
import { GROUP_HEADER, padFacetGrid } from './paper-figures.js';
import type { EvaluatedInstance } from './instances.js';
import { NO_LABEL_LIMIT, THEME } from './theme.js';

/**
 * The trigger-placement map: evaluate outputs whose matrix has numeric `row` and `col` keys (the
 * trigger position, e.g. swept with `{ range: [0, 31, 4] }`) become heatmaps over (row, col), one
 * panel per network (rows of panels) and per remaining matrix value such as the colour (columns).
 * Row 0 is at the top, as in the image.
 */

/** Matrix keys read as the trigger position. */
export const PLACEMENT_KEYS = { row: 'row', col: 'col' } as const;
/** Side of one grid cell in px: an 8x8 grid makes a 208 px panel, with room for a 3-digit value. */
const CELL = 26;

type Row = Record<string, string | number | null>;

/** Evaluated instances with a numeric trigger position, when at least two positions were measured. */
export function placementInstances(instances: readonly EvaluatedInstance[]): EvaluatedInstance[] {
  const placed = instances.filter((i) => i.kind === 'evaluate' && typeof i.matrix[PLACEMENT_KEYS.row] === 'number' && typeof i.matrix[PLACEMENT_KEYS.col] === 'number');
  const positions = new Set(placed.map((i) => `${String(i.matrix[PLACEMENT_KEYS.row])},${String(i.matrix[PLACEMENT_KEYS.col])}`));
  return positions.size >= 2 ? placed : [];
}

function placementFigure(instances: readonly EvaluatedInstance[], measure: 'targeted' | 'clean'): Figure | undefined {
  const placed = placementInstances(instances).filter((i) => measure === 'targeted' || i.metrics.cleanAccuracy !== undefined);
  if (placed.length === 0) return undefined;
  const arrangement = arrange(placed, [PLACEMENT_KEYS.row, PLACEMENT_KEYS.col]);
  const values: Row[] = placed.map((i) => ({
    id: i.id,
    group: arrangement.groupOf.get(i.id)!,
    condition: arrangement.conditionOf.get(i.id)!,
    row: i.matrix[PLACEMENT_KEYS.row] as number,
    col: i.matrix[PLACEMENT_KEYS.col] as number,
    value: measure === 'targeted' ? i.metrics.targetedSuccessRate : i.metrics.cleanAccuracy!,
  }));
  const rows = [...new Set(values.map((v) => v.row as number))].sort((a, b) => a - b);
  const cols = [...new Set(values.map((v) => v.col as number))].sort((a, b) => a - b);
  const title = measure === 'targeted' ? 'Where does a one-pixel backdoor work? Targeted success by trigger position' : 'Clean test accuracy by trigger position';
  const subtitle = measure === 'targeted'
    ? 'share of triggered test images classified as the target; one cell per trigger pixel (row, col), row 0 at the top'
    : 'accuracy of the backdoored model on clean test images, per trigger position';
  // Success spans 0..1; clean accuracy varies by a few points, so its scale fits the data.
  const measured = values.map((v) => v.value as number);
  const domain = measure === 'targeted' ? [0, 1] : [Math.min(...measured), Math.max(Math.max(...measured), Math.min(...measured) + 0.01)];
  // Viridis is dark at the low end: white digits there, dark ones on the light half.
  const middle = (domain[0]! + domain[1]!) / 2;
  const padded = padFacetGrid(values, 'group', arrangement.groups, 'condition', arrangement.conditions, { id: 'not run', row: rows[0]!, col: cols[0]!, value: null });
  const spec = {
    data: { values: padded },
    facet: {
      row: { field: 'group', type: 'nominal', sort: arrangement.groups, title: arrangement.groupTitle || null, header: { ...GROUP_HEADER, labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' } },
      column: { field: 'condition', type: 'nominal', sort: arrangement.conditions, title: null, header: { labelLimit: NO_LABEL_LIMIT } },
    },
    spec: {
      width: cols.length * CELL,
      height: rows.length * CELL,
      encoding: {
        x: { field: 'col', type: 'ordinal', sort: cols, title: 'Trigger column', axis: { labelAngle: 0, orient: 'top' } },
        y: { field: 'row', type: 'ordinal', sort: rows, title: 'Trigger row' },
      },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: {
            color: { field: 'value', type: 'quantitative', title: measure === 'targeted' ? 'Targeted success' : 'Clean accuracy', scale: { scheme: 'viridis', domain }, legend: { format: '.0%' } },
            tooltip: [
              { field: 'id', type: 'nominal', title: 'Instance' },
              { field: 'row', type: 'ordinal' },
              { field: 'col', type: 'ordinal' },
              { field: 'value', type: 'quantitative', format: '.1%' },
            ],
          },
        },
        {
          // Percent without the sign keeps three digits inside a cell; the legend says what they are.
          mark: { type: 'text', fontSize: 8.5 },
          transform: [{ filter: 'datum.value != null' }, { calculate: '100 * datum.value', as: 'percent' }],
          encoding: {
            text: { field: 'percent', type: 'quantitative', format: '.0f' },
            color: { condition: { test: `datum.value < ${middle}`, value: 'white' }, value: '#111111' },
          },
        },
      ],
    },
  };
  return {
    name: measure === 'targeted' ? 'placement-targeted-success' : 'placement-clean-accuracy',
    title,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: title, subtitle: `${subtitle}; values in %` },
      config: { ...THEME, axis: { ...THEME.axis, labelLimit: NO_LABEL_LIMIT } },
      ...spec,
    } as TopLevelSpec,
  };
}

export const placementSuccessFigure = (instances: readonly EvaluatedInstance[]) => placementFigure(instances, 'targeted');
export const placementAccuracyFigure = (instances: readonly EvaluatedInstance[]) => placementFigure(instances, 'clean');
