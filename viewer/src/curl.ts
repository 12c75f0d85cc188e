// "Copy as cURL" for a recorded request, without anything that could let the copy act as the user.

/** What a cURL command is built from: a request as the recorder captured it. */
export type CurlRequest = {
  method: string;
  url: string;
  requestHeaders?: Record<string, string> | null;
  requestBody?: string | null;
};

/** Stands in for every secret left out; a developer fills in their own where they need one. */
export const PLACEHOLDER = "REDACTED";

// Credential headers never travel in a copy, whatever the recording holds (a recording made by
// an older recorder, or with a generous allow-list, may have them).
const SECRET_HEADER = /^(?:authorization|proxy-authorization|cookie|set-cookie)$|token|secret|passw|key|auth|session|csrf|xsrf|signature|credential/i;
// Parameter and body member names that carry credentials (the service's scrubbing uses the same
// hints), less those that only describe a token.
const SECRET_NAME = /passw|pwd|secret|token|key|auth|sess|sig|credential|jwt|otp|^code$|^sid$/i;
const NOT_SECRET = new Set(["token_type", "expires_in", "session_state"]);

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER.test(name.trim());
}

export function isSecretName(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name.replace(/\+/g, " "));
  } catch {
    // A malformed escape: judge the name as written.
  }
  const lowered = decoded.toLowerCase();
  return !NOT_SECRET.has(lowered) && SECRET_NAME.test(lowered);
}

/** `name=value` pairs after `?` (or in a form body) with secret values replaced. */
function redactPairs(text: string): string {
  return text.replace(/(^|[?&;])([^=&;#]+)=([^&;#]*)/g, (whole, sep: string, name: string, value: string) =>
    value && isSecretName(name) ? `${sep}${name}=${PLACEHOLDER}` : whole,
  );
}

/** The URL as curl should request it: no fragment (never sent), no userinfo, no secret params. */
export function redactUrl(url: string): string {
  const hash = url.indexOf("#");
  let clean = hash >= 0 ? url.slice(0, hash) : url;
  clean = clean.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, "$1");
  const query = clean.indexOf("?");
  return query < 0 ? clean : clean.slice(0, query) + redactPairs(clean.slice(query));
}

function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([name, member]) => [
        name,
        isSecretName(name) && name.toLowerCase() !== "code" && (typeof member === "string" || typeof member === "number")
          ? PLACEHOLDER
          : redactJson(member),
      ]),
    );
  }
  return value;
}

/** A body without secret JSON members or form fields; other text as recorded. */
export function redactBody(body: string): string {
  const trimmed = body.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.stringify(redactJson(JSON.parse(trimmed)));
    } catch {
      // Cut short by the recorder's length limit, or not JSON: treat it as text.
    }
  }
  return /^[^\s=&]+=[^\s]*$/.test(trimmed) ? redactPairs(trimmed) : body;
}

/** A POSIX shell word holding `text` exactly. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** One command line per option, joined with backslash-newlines, ready to paste into a shell. */
export function curlCommand(request: CurlRequest): string {
  const method = (request.method || "GET").toUpperCase();
  const parts = [`curl ${shellQuote(redactUrl(request.url))}`];
  if (method === "HEAD") parts.push("--head");
  else if (method !== "GET" || request.requestBody) parts.push(`-X ${shellQuote(method)}`);
  for (const [name, value] of Object.entries(request.requestHeaders ?? {})) {
    if (!isSecretHeader(name)) parts.push(`-H ${shellQuote(`${name}: ${value}`)}`);
  }
  if (request.requestBody) parts.push(`--data-raw ${shellQuote(redactBody(request.requestBody))}`);
  return parts.join(" \\\n  ");
}
