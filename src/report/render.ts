/*
 * Figures are rendered with Vega-Lite → Vega → SVG → resvg PNG, because:
 * - Vega-Lite is a declarative grammar: each figure is a small JSON spec (saved next to the image,
 *   so a figure can be restyled for a paper without rerunning anything), and one shared config
 *   gives every figure the same fonts, sizes and colour-blind-safe palette;
 * - Vega renders headless in Node with renderer 'none' + view.toSVG(): no browser, no DOM and no
 *   native canvas build (node-canvas would need cairo); text widths are estimated, which is fine
 *   for static figures (text-width.ts makes the estimate fit the font);
 * - @resvg/resvg-js rasterises the SVG to PNG from a prebuilt npm binary (no system libraries), at
 *   any zoom, with system fonts, so PNGs are sharp for slides and identical in layout to the SVGs.
 * Vega and Vega-Lite take a few hundred ms to import, so they are imported once, lazily: code that
 * only builds specs (or reads inputs) never pays for them.
 */
import type { TopLevelSpec } from 'vega-lite';
import { vegaTextWidth } from './text-width.js';
import { FONT_FAMILY } from './theme.js';

type VegaModule = typeof import('vega');
type VegaLiteModule = typeof import('vega-lite');
type ResvgModule = typeof import('@resvg/resvg-js');

interface Engines {
  vega: VegaModule;
  vegaLite: VegaLiteModule;
  resvg: ResvgModule;
}

let engines: Promise<Engines> | undefined;

function loadEngines(): Promise<Engines> {
  engines ??= Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]).then(
    ([vega, vegaLite, resvg]) => {
      // Layout (label truncation, legend and title placement) then matches the font resvg draws.
      // textMetrics is exported by vega-scenegraph but missing from vega's typings.
      const metrics = (vega as unknown as { textMetrics?: { width: typeof vegaTextWidth } }).textMetrics;
      if (metrics) metrics.width = vegaTextWidth;
      return { vega, vegaLite, resvg };
    },
  );
  return engines;
}

/** Renders a Vega-Lite spec to a standalone SVG document (with width, height and viewBox). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite } = await loadEngines();
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterises an SVG document to PNG bytes; `zoom` multiplies the SVG's pixel size (2 = print/retina).
 * Text uses the system fonts, falling back to the theme font family.
 */
export async function renderPng(svg: string, zoom: number): Promise<Buffer> {
  const { resvg } = await loadEngines();
  const renderer = new resvg.Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: FONT_FAMILY },
    fitTo: { mode: 'zoom', value: zoom },
  });
  return renderer.render().asPng();
}
