// Zendesk's app framework as the sidebar uses it, and ReplayDesk's API reached through it.
//
// Every call to ReplayDesk goes through `client.request` with `secure: true`: Zendesk's proxy
// replaces `{{setting.api_key}}` with the app's secure setting on its way out, so the key
// never reaches the agent's browser (and the page's CSP lets it connect nowhere itself).

/** The part of ZAF's client (SDK 2.0) the sidebar calls. */
export interface ZafClient {
  get(paths: string[]): Promise<Record<string, unknown>>;
  metadata(): Promise<{ settings?: Record<string, unknown> }>;
  request(options: ZafRequest): Promise<unknown>;
  invoke(name: string, ...args: unknown[]): Promise<unknown>;
}

export type ZafRequest = {
  url: string;
  type: "GET" | "POST";
  headers: Record<string, string>;
  secure: boolean;
  cors: boolean;
  contentType?: string;
  data?: string;
  dataType: "json";
};

declare global {
  interface Window {
    /** Set by Zendesk's SDK; `init()` is falsy outside a Zendesk app frame. */
    ZAFClient?: { init(): ZafClient | false | null | undefined };
  }
}

/** The placeholder Zendesk's proxy fills with the app's `api_key` secure setting. */
export const KEY_PLACEHOLDER = "{{setting.api_key}}";

/** A refused or failed call: `status` 0 when ReplayDesk could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail || `HTTP ${status}`);
  }
}

/** ZAF rejects a request with the proxy's answer (`status`, `responseText`, maybe
 * `responseJSON`); a problem+json body carries a `detail` a person can act on. */
export function apiError(reason: unknown): ApiError {
  if (reason instanceof ApiError) return reason;
  const answer = (typeof reason === "object" && reason !== null ? reason : {}) as Record<string, unknown>;
  const status = typeof answer.status === "number" ? answer.status : 0;
  let body = answer.responseJSON;
  if (body === undefined && typeof answer.responseText === "string") {
    try {
      body = JSON.parse(answer.responseText);
    } catch {
      body = undefined;
    }
  }
  const detail =
    typeof body === "object" && body !== null && typeof (body as Record<string, unknown>).detail === "string"
      ? String((body as Record<string, unknown>).detail)
      : "";
  return new ApiError(status, detail || (reason instanceof Error ? reason.message : ""));
}

export class ReplayDeskApi {
  private readonly base: string;

  constructor(
    private readonly client: ZafClient,
    base: string,
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  private async call<T>(type: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    try {
      return (await this.client.request({
        url: this.base + path,
        type,
        headers: { Authorization: `Bearer ${KEY_PLACEHOLDER}` },
        secure: true,
        // Through Zendesk's proxy: the browser never calls ReplayDesk itself.
        cors: false,
        ...(body === undefined ? {} : { contentType: "application/json", data: JSON.stringify(body) }),
        dataType: "json",
      })) as T;
    } catch (reason) {
      throw apiError(reason);
    }
  }

  /** A page of the user's sessions, newest first (`before`: only those started before). */
  userSessions<T>(userId: string, limit: number, before?: string): Promise<T> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    return this.call("GET", `/api/v1/users/${encodeURIComponent(userId)}/sessions?${query}`);
  }

  /** A short-lived viewer link to one session, audited and revoked with the ticket's links;
   * `live`: one that follows the session as it is recorded. */
  mintLink(
    sessionId: string,
    ticket: string,
    ttlSeconds: number,
    live = false,
  ): Promise<{ url: string; expires_at: string }> {
    return this.call("POST", `/api/v1/sessions/${encodeURIComponent(sessionId)}/links`, {
      ttl_seconds: ttlSeconds,
      ticket,
      ...(live ? { live: true } : {}),
    });
  }
}
