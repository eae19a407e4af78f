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

/** Vega's tableau20 colours: after the 8 Okabe–Ito ones, so 28 conditions stay distinct. */
export const WIDE_PALETTE = [
  '#4c78a8', '#9ecae9', '#f58518', '#ffbf79', '#54a24b', '#88d27a', '#b79a20', '#f2cf5b', '#439894', '#83bcb6',
  '#e45756', '#ff9d98', '#79706e', '#bab0ac', '#d67195', '#fcbfd2', '#b279a2', '#d6a5c9', '#9e765f', '#d8b5a5',
];

/**
 * Label width limit for figures whose labels must never be cut (Vega truncates with an ellipsis
 * beyond `labelLimit`); long labels are split into lines instead.
 */
export const NO_LABEL_LIMIT = 100_000;
