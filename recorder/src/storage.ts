/** Web Storage that never throws (storage can be disabled, full, or forbidden), and small helpers. */

/** localStorage: per site, shared by every tab. sessionStorage: per tab, survives reloads. */
export type Area = 'localStorage' | 'sessionStorage';
export const SITE: Area = 'localStorage';
export const TAB: Area = 'sessionStorage';

function use<T>(area: Area, action: (storage: Storage) => T): T | undefined {
  try {
    return action(window[area]);
  } catch {
    return undefined;
  }
}

export const load = <T>(area: Area, key: string): T | null =>
  use(area, (s) => JSON.parse(s.getItem(key) || 'null') as T | null) ?? null;

export const save = (area: Area, key: string, value: unknown): void =>
  use(area, (s) => s.setItem(key, JSON.stringify(value)));

export const drop = (area: Area, key: string): void => use(area, (s) => s.removeItem(key));

export const keysOf = (area: Area): string[] => use(area, Object.keys) ?? [];

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** 22 random characters of [A-Za-z0-9_-] (132 bits), valid as an ingest session id. */
export function randomId(): string {
  let id = '';
  for (const byte of crypto.getRandomValues(new Uint8Array(22))) id += ALPHABET[byte & 63];
  return id;
}

export const warn = (message: string): void => console.warn('[ReplayDesk] ' + message);
