import type { EvaluatedInstance, TrainedInstance } from './instances.js';
import { summariseTraining } from './summary.js';
import { FONT_FAMILY } from './theme.js';

/** A rendered figure as the report embeds it. */
export interface RenderedFigure {
  name: string;
  title: string;
  svg: string;
}

export interface ReportContent {
  title: string;
  evaluated: readonly EvaluatedInstance[];
  trained: readonly TrainedInstance[];
  labels: ReadonlyMap<string, string>;
  figures: readonly RenderedFigure[];
  /** Footer line, e.g. `bdlab 0.1.0, stage plot[...]`. */
  generator: string;
  /** Ready HTML sections placed before the metric tables (the multi-run report's runs and compare table). */
  sections?: readonly string[];
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const percent = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(2)} %`);
const plain = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const count = (v: number): string => v.toLocaleString('en-US');

function table(caption: string, head: readonly string[], rows: readonly (readonly string[])[], numericFrom: number): string {
  const th = head.map((h, i) => `<th${i >= numericFrom ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table>\n<caption>${escapeHtml(caption)}</caption>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function attackTable(content: ReportContent): string {
  const rows = content.evaluated.map((i) => {
    const m = i.metrics;
    return [
      content.labels.get(i.id) ?? i.id, i.id, i.kind, percent(m.cleanAccuracy), percent(m.targetedSuccessRate),
      percent(m.nonTargetedSuccessRate), percent(m.targetedConfidence), percent(m.nonTargetedConfidence),
      count(m.attemptedImages), count(m.attemptedTargeted),
    ];
  });
  return table('Attack metrics per instance (success rates over attacked images; confidence over successful attacks)',
    ['Label', 'Instance', 'Kind', 'Clean accuracy', 'Targeted success', 'Non-targeted success', 'Targeted confidence',
      'Non-targeted confidence', 'n images', 'n targeted attempts'], rows, 3);
}

function trainingTable(content: ReportContent): string {
  const rows = content.trained.map((i) => {
    const s = summariseTraining(i);
    return [
      content.labels.get(i.id) ?? i.id, i.id, i.history.model || '–', String(s.epochs), plain(s.finalLoss, 4),
      percent(s.finalAccuracy), percent(s.finalValAccuracy), percent(s.bestValAccuracy), plain(s.seconds, 1),
      plain(s.meanImagesPerSecond, 0),
    ];
  });
  return table('Training summary (final epoch unless noted)',
    ['Label', 'Instance', 'Model', 'Epochs', 'Final loss', 'Final accuracy', 'Final val accuracy', 'Best val accuracy',
      'Time (s)', 'Images/s'], rows, 3);
}

/**
 * Prepares a standalone SVG for inlining: drops any XML declaration or doctype, and prefixes its
 * element ids (gradients, clip paths) and their references, since ids share one namespace in HTML.
 */
function inlineSvg(svg: string, prefix: string): string {
  return svg
    .replace(/^\s*<\?xml[^>]*>\s*/, '')
    .replace(/^\s*<!DOCTYPE[^>]*>\s*/i, '')
    .replace(/ id="([^"]+)"/g, ` id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

const STYLE = `
body { font-family: '${FONT_FAMILY}', Helvetica, Arial, sans-serif; color: #222; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
nav ol { columns: 2; font-size: .9rem; }
table { border-collapse: collapse; font-size: .85rem; margin: 1rem 0; width: 100%; }
caption { text-align: left; font-weight: bold; padding-bottom: .4rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5rem 0; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #555; }
.meta { color: #666; font-size: .85rem; }
`;

/**
 * `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external URLs) with the
 * metric tables, the training summary and every figure, linked from a table of contents.
 */
export function reportHtml(content: ReportContent): string {
  const toc = content.figures.map((f) => `<li><a href="#fig-${escapeHtml(f.name)}">${escapeHtml(f.title)}</a></li>`).join('\n');
  const figures = content.figures
    .map((f, i) => `<figure id="fig-${escapeHtml(f.name)}">\n${inlineSvg(f.svg, `svg-${escapeHtml(f.name)}`)}\n<figcaption>Figure ${i + 1}. ${escapeHtml(f.title)} (figures/${escapeHtml(f.name)}.svg)</figcaption>\n</figure>`)
    .join('\n');
  const sections = [
    ...(content.sections ?? []),
    content.evaluated.length > 0 ? `<h2>Attack metrics</h2>\n${attackTable(content)}` : '',
    content.trained.length > 0 ? `<h2>Training</h2>\n${trainingTable(content)}` : '',
    content.figures.length > 0 ? `<h2>Figures</h2>\n<nav><ol>\n${toc}\n</ol></nav>\n${figures}` : '',
  ].filter((s) => s !== '');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(content.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(content.title)}</h1>
<p class="meta">${content.evaluated.length} evaluated instance(s), ${content.trained.length} training run(s), ${content.figures.length} figure(s). ${escapeHtml(content.generator)}</p>
${sections.join('\n')}
</body>
</html>
`;
}
