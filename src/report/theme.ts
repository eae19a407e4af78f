import type { Config } from 'vega-lite';

/**
 * Okabe–Ito palette: distinguishable under the common colour-vision deficiencies and in greyscale
 * print. Yellow comes last because it is faint on white.
 */
export const CATEGORY_PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];

/** Width of a single-panel figure in CSS px: fits one column of a two-column paper at 2x zoom. */
export const FIGURE_WIDTH = 480;
/** Plot-area height of a single-panel figure: a little over half the width reads well in print. */
export const FIGURE_HEIGHT = 260;
/** Panel size when a figure shows two panels side by side. */
export const PANEL_WIDTH = 230;

/** The font every figure is set in; the PNG renderer is told to use the same one. */
export const FONT_FAMILY = 'DejaVu Sans';

/** Paper-friendly Vega-Lite config shared by every figure, so all figures look like one set. */
export const THEME: Config = {
  font: FONT_FAMILY,
  background: 'white',
  padding: 8,
  view: { continuousWidth: FIGURE_WIDTH, continuousHeight: FIGURE_HEIGHT, stroke: '#bbbbbb' },
  title: { fontSize: 14, fontWeight: 'bold', anchor: 'start', offset: 10, subtitleFontSize: 11, subtitleColor: '#555555' },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal',
    labelColor: '#222222',
    titleColor: '#222222',
    gridColor: '#e8e8e8',
    domainColor: '#555555',
    tickColor: '#555555',
    labelLimit: 220,
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 260, titleLimit: 260, symbolStrokeWidth: 2 },
  header: { labelFontSize: 12, titleFontSize: 12, labelFontWeight: 'bold' },
  range: { category: CATEGORY_PALETTE, heatmap: { scheme: 'blues' } },
  line: { strokeWidth: 2 },
  point: { size: 40, filled: true },
  text: { fontSize: 10 },
};
