// Number formatting shared by workflow texts, validation messages and the CLI. PURE: workflow code
// imports it, so no Intl (the workflow sandbox's locale data is not guaranteed).

/** 1234567 → "1,234,567". */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
