// A browser tab for the redirect sign-in tests in Node: its own sessionStorage and a location whose assign() is recorded, plus a user agent that follows redirects.

/** One tab's sessionStorage (Web Storage API, in memory). */
export class TabStorage {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

export interface Tab {
  sessionStorage: TabStorage;
  /** URLs the page navigated to with location.assign(). */
  assigned: string[];
  /** Make this tab the current one (globalThis.sessionStorage and location). */
  focus(): void;
}

const g = globalThis as { sessionStorage?: unknown; location?: unknown };

/** A new tab on `href`; focused at once. */
export function openTab(href: string): Tab {
  const tab: Tab = {
    sessionStorage: new TabStorage(),
    assigned: [],
    focus: () => {
      g.sessionStorage = tab.sessionStorage;
      g.location = {
        href,
        assign: (url: string) => {
          tab.assigned.push(url);
        },
      };
    },
  };
  tab.focus();
  return tab;
}

/** No tab: Node as it is. */
export function closeTabs(): void {
  delete g.sessionStorage;
  delete g.location;
}

/**
 * Follow redirects from `url` as a browser would (no cookies) until one goes to `stopAt`'s origin
 * and path; returns that URL. Fails on any other answer than a redirect.
 */
export async function followUntil(url: string, stopAt: string): Promise<string> {
  const stop = new URL(stopAt);
  let at = url;
  for (let hops = 0; hops < 10; hops++) {
    const here = new URL(at);
    if (here.origin === stop.origin && here.pathname === stop.pathname) return at;
    const res = await fetch(at, { redirect: 'manual' });
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (res.status < 300 || res.status > 399 || !location)
      throw new Error(`GET ${here.pathname} answered ${res.status}, not a redirect`);
    at = new URL(location, at).href;
  }
  throw new Error('too many redirects');
}
