// Access-Control-Expose-Headers: cross-origin callers read only the response headers listed there.
import type { Response } from 'express';

/** Exposes `name` to cross-origin callers, keeping what CORS middleware already exposed. */
export function exposeHeader(res: Response, name: string): void {
  const current = res.getHeader('Access-Control-Expose-Headers');
  if (current === undefined) {
    res.setHeader('Access-Control-Expose-Headers', name);
    return;
  }
  const list = Array.isArray(current) ? current.join(', ') : current ? String(current) : '';
  const lower = name.toLowerCase();
  if (
    list === '*' ||
    list
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(lower)
  )
    return;
  res.setHeader('Access-Control-Expose-Headers', list ? `${list}, ${name}` : name);
}
