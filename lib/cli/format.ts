// Human output of the CLI: aligned tables, `key: value` lines, and value rendering.

/** A cell value: lists join with commas, empty and missing values show as `-`. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.map(cell).join(',') : '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Epoch seconds as an ISO-8601 UTC time without milliseconds. */
export function time(epochSeconds: number | undefined): string {
  if (epochSeconds === undefined) return '-';
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A plain table: an upper-case header row, columns padded to their widest cell. */
export function table(header: string[], rows: unknown[][], empty: string): string {
  if (rows.length === 0) return `(${empty})`;
  const text = [header.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(cell))];
  const widths = header.map((_, i) => Math.max(...text.map((r) => (r[i] ?? '').length)));
  return text
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `key: value` lines with the values aligned; undefined values are left out. */
export function fields(record: Record<string, unknown>): string {
  const entries = Object.entries(record).filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...entries.map(([k]) => k.length + 1));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width)} ${cell(v)}`).join('\n');
}
