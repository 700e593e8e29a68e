// How many times a request carries a header: Node keeps only the first of most repeated headers in req.headers.

import type { Request } from 'express';

/** How many `name` header lines (lowercase name) `req` arrived with. */
export function headerCount(req: Request, name: string): number {
  let n = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) n++;
  return n;
}
