// Small Markdown pieces for the Web UI's "Current Details" (rendered as Markdown there).
// PURE: no Temporal imports. Avoid "a/b" between numbers: the Web UI turns 1/2 into a fraction glyph.

/** 1234567 → "1,234,567" (no Intl: the workflow sandbox's locale data is not guaranteed). */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A two-column table, label left, value right-aligned. */
export function table(header: [string, string], rows: [string, string][]): string {
  return [`| ${header[0]} | ${header[1]} |`, '|:--|--:|', ...rows.map(([label, value]) => `| ${escapeCell(label)} | ${escapeCell(value)} |`)].join('\n');
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}
