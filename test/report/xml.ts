/**
 * Minimal well-formedness check for generated SVG: every start tag is closed in order, attributes
 * are quoted, and there is exactly one root element. Returns the problem or undefined.
 */
export function xmlProblem(text: string): string | undefined {
  const stack: string[] = [];
  let roots = 0;
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<\/([A-Za-z][\w:.-]*)\s*>|<([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/g;
  for (const m of text.matchAll(token)) {
    const [whole, close, open, , selfClosing] = m;
    if (whole === '<') return `stray or malformed tag at offset ${m.index}: ${text.slice(m.index, m.index + 60)}`;
    if (whole.startsWith('&')) return `unescaped & at offset ${m.index}`;
    if (close) {
      const top = stack.pop();
      if (top !== close) return `</${close}> closes <${top ?? 'nothing'}> at offset ${m.index}`;
    } else if (open) {
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(open);
    }
  }
  if (stack.length > 0) return `unclosed <${stack.join('>, <')}>`;
  if (roots !== 1) return `${roots} root elements`;
  return undefined;
}

/** Width and height from a PNG's IHDR chunk, or an error text when the bytes are not a PNG. */
export function pngSize(bytes: Buffer): { width: number; height: number } | string {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(signature)) return 'no PNG signature';
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') return 'first chunk is not IHDR';
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, \n line ends) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; } else cell += c;
  }
  if (cell !== '' || row.length > 0) { row.push(cell); rows.push(row); }
  return rows;
}
