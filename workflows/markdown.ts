// Small Markdown pieces for the Web UI's "Current Details" (rendered as Markdown there).
// PURE: no Temporal imports. Avoid "a/b" between numbers: the Web UI turns 1/2 into a fraction glyph.

export { thousands } from '../src/text';

/** A two-column table, label left, value right-aligned. */
export function table(header: [string, string], rows: [string, string][]): string {
  return [`| ${header[0]} | ${header[1]} |`, '|:--|--:|', ...rows.map(([label, value]) => `| ${escapeCell(label)} | ${escapeCell(value)} |`)].join('\n');
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}
