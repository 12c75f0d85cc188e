// Calls to the ReplayDesk API with the viewer token, which never leaves this page otherwise.

import type { AssetMap } from "./asset_copies";

export class LinkRefused extends Error {}

export type Summary = {
  session_id: string;
  user_id: string | null;
  started_at: string;
  ended_at: string;
  duration_ms: number;
  pages: string[];
  first_error_at: string | null;
  first_error_offset_ms: number | null;
  counts: Record<string, number>;
  environment?: Environment | null;
  /** Set for a windowed link: the part of the session it shows (offsets from its start). */
  window?: SummaryWindow | null;
};

export type SummaryWindow = { from_ms: number; to_ms: number; started_at: string; ended_at: string };

type Size = { width: number; height: number };
/** Where the session was recorded, as its latest page load reported. */
export type Environment = {
  browser?: string;
  browser_version?: string;
  os?: string;
  os_version?: string;
  device?: string;
  viewport?: Size;
  screen?: Size;
  pixel_ratio?: number;
  language?: string;
  time_zone?: string;
  release?: string;
  environment?: string;
  user_agent?: string;
};

export type ConsoleError = { at: string; offset_ms?: number; level: string; message: string; stack: string[] };
export type FailedRequest = {
  at: string;
  offset_ms?: number;
  method: string;
  url: string;
  status: number;
  duration_ms: number | null;
  error: string | null;
};
// `offset_ms` counts from the session's first event. The service states `at` on its own clock,
// which differs from the recording's when the browser's clock was off: place things by offset.
export type Struggle = {
  at: string;
  offset_ms: number;
  label: string | null;
  selector: string | null;
  count: number;
};
export type PageView = { at: string; url: string };
export type Step = { at: string; offset_ms: number; text: string; kind: string };

export type Report = {
  session: Summary;
  console_errors: ConsoleError[];
  failed_requests: FailedRequest[];
  rage_clicks: Struggle[];
  dead_clicks: Struggle[];
  /** Absent from services older than error clicks. */
  error_clicks?: Struggle[];
  page_views: PageView[];
  steps: Step[];
};

export class ReplayApi {
  constructor(
    private readonly sessionId: string,
    private readonly token: string,
  ) {}

  private async get(path: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    const url = `/api/v1/sessions/${encodeURIComponent(this.sessionId)}${path}`;
    const response = await fetch(url, {
      headers: { ...headers, Authorization: `Bearer ${this.token}` },
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      signal,
    });
    if (response.status === 401 || response.status === 403 || response.status === 404) {
      throw new LinkRefused();
    }
    if (!response.ok) throw new Error(`ReplayDesk answered ${response.status}`);
    return response;
  }

  async report(): Promise<Report> {
    return (await (await this.get("/report")).json()) as Report;
  }

  events(): Promise<Response> {
    return this.get("/events");
  }

  /** The live view's event stream, from the batch after `afterSeq` (server-sent events). */
  live(afterSeq: number | null, signal?: AbortSignal): Promise<Response> {
    return this.get("/live", afterSeq === null ? {} : { "Last-Event-ID": String(afterSeq) }, signal);
  }

  /** The session's asset copies; none (every reference blank) when the service has no map.
   * `refresh`: the service first copies what the newest batches reference (a few seconds at
   * most). */
  async assets(refresh = false): Promise<AssetMap> {
    try {
      return (await (await this.get(refresh ? "/assets?refresh=true" : "/assets")).json()) as AssetMap;
    } catch {
      return { session_id: this.sessionId, fetching: false, bytes_path: "", assets: [] };
    }
  }

  /** One copy's bytes, from the path the asset map gives. */
  async assetBytes(path: string): Promise<Blob> {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${this.token}` },
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) throw new Error(`ReplayDesk answered ${response.status}`);
    return response.blob();
  }
}

/** The token from the link's fragment (kept for reloads in this tab only), and a clean URL. */
export function takeToken(sessionId: string): string | null {
  const key = `replaydesk:token:${sessionId}`;
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get("t");
  if (fromLink) {
    sessionStorage.setItem(key, fromLink);
    // Out of the address bar: screenshots and screen shares must not show a working link.
    history.replaceState(null, "", location.pathname + location.search);
    return fromLink;
  }
  return sessionStorage.getItem(key);
}
