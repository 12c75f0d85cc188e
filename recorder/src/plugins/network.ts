/** `replaydesk/network@1`: fetch, XMLHttpRequest and sendBeacon, one event as each settles. */

import type { RecordPlugin } from '@rrweb/types';
import { plugins } from '../../../wire/vocabulary.json';
import type { NetworkPayload } from '../../../wire/payloads';
import type { NetworkOptions, UrlPattern } from '../options';
import { callerFrame } from '../own_script';
import { scrubBody, scrubText, scrubUrl } from '../scrub';

// The payload (wire/vocabulary.json, $defs.network): fields left undefined are left out when
// the event is serialised.
type Kind = NetworkPayload['kind'];
type HeaderMap = Record<string, string>;
type Header = (name: string) => string | null | undefined;

export interface NetworkCapture extends Required<NetworkOptions> {
  /** Requests not to record (the recorder's own uploads). */
  ignore(url: string): boolean;
}

/** Never recorded, whatever the allow-list says. */
const FORBIDDEN_HEADERS = /^(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token)$/;
const TEXT_TYPES = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|x-www-form-urlencoded|javascript))/;

function absolute(url: string): string {
  try {
    return new URL(url, location.href).href;
  } catch {
    return url;
  }
}

const matches = (url: string, patterns: UrlPattern[]): boolean =>
  patterns.some((p) => (typeof p === 'string' ? url.startsWith(p) || url.startsWith(location.origin + p) : p.test(url)));

/** The size of a request body, where it is known without reading it (not FormData, streams). */
const sizeOf = (body: unknown): number | undefined =>
  typeof body === 'string' || body instanceof URLSearchParams
    ? String(body).length
    : body instanceof Blob
      ? body.size
      : body instanceof ArrayBuffer || ArrayBuffer.isView(body)
        ? body.byteLength
        : undefined;

const textOf = (body: unknown): string | undefined =>
  typeof body === 'string' || body instanceof URLSearchParams ? String(body) : undefined;

function pick(names: string[], get: Header): HeaderMap | undefined {
  let out: HeaderMap | undefined;
  for (let name of names) {
    name = name.toLowerCase();
    const value = FORBIDDEN_HEADERS.test(name) ? null : get(name);
    if (value != null) (out ||= {})[name] = scrubText(value);
  }
  return out;
}

function errorText(error: unknown): string {
  const e = error as { name?: string; message?: string } | null;
  return scrubText(e?.name ? e.name + ': ' + e.message : String(error)).slice(0, 300);
}

/** The network plugin: patches the page's fetch, XMLHttpRequest and sendBeacon while recording. */
export function networkPlugin(capture: NetworkCapture): RecordPlugin<null> {
  return {
    name: plugins.network,
    options: null,
    observer(cb, win) {
      // Same-origin iframes are observed too; their requests are not the page's.
      if (win !== window) return () => undefined;
      let on = true;
      const body = (url: string, text: string | undefined): string | undefined =>
        text !== undefined && matches(url, capture.bodyUrls) ? scrubBody(text.slice(0, capture.maxBodyLength)) : undefined;
      const report = (
        kind: Kind,
        method: string,
        url: string,
        started: number,
        initiator: string | undefined,
        status: number,
        request: unknown,
        requestHeader: Header,
        responseHeader?: Header,
        responseText?: string,
        error?: string,
      ): void => {
        if (!on) return;
        const length = responseHeader?.('content-length');
        cb({
          kind,
          method: method.toUpperCase(),
          url: scrubUrl(url),
          status,
          duration: Math.round((performance.now() - started) * 10) / 10,
          requestSize: sizeOf(request),
          responseSize: length ? +length : responseText?.length,
          error,
          requestHeaders: pick(capture.requestHeaders, requestHeader),
          responseHeaders: responseHeader && pick(capture.responseHeaders, responseHeader),
          requestBody: body(url, textOf(request)),
          responseBody: body(url, responseText),
          initiator: initiator && scrubText(initiator),
        } satisfies NetworkPayload);
      };

      const nativeFetch = win.fetch;
      const fetchWrapper = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
        const started = performance.now();
        const initiator = callerFrame();
        const result = nativeFetch.apply(this, [input, init]);
        // Recording must never break the page's request: a failure here only loses the event.
        try {
          const request = input instanceof Request ? input : undefined;
          const url = absolute(request ? request.url : String(input));
          if (!capture.ignore(url)) {
            const headers = new Headers(init?.headers || request?.headers);
            const done = (response: Response | null, error?: unknown, text?: string): void =>
              report(
                'fetch',
                init?.method || request?.method || 'GET',
                url,
                started,
                initiator,
                response ? response.status : 0,
                init?.body,
                (name) => headers.get(name),
                response ? (name) => response.headers.get(name) : undefined,
                text,
                response ? undefined : errorText(error),
              );
            result.then(
              (response) =>
                matches(url, capture.bodyUrls) && TEXT_TYPES.test(response.headers.get('content-type') || '')
                  ? response
                      .clone()
                      .text()
                      .then(
                        (text) => done(response, undefined, text),
                        () => done(response),
                      )
                  : done(response),
              (error: unknown) => done(null, error),
            );
          }
        } catch {
          // The request goes on untouched.
        }
        return result;
      } as typeof fetch;
      win.fetch = fetchWrapper;

      const xhr = win.XMLHttpRequest.prototype;
      const natives = { open: xhr.open, send: xhr.send, setRequestHeader: xhr.setRequestHeader };
      const requests = new WeakMap<XMLHttpRequest, [method: string, url: string, headers: HeaderMap]>();
      xhr.open = function (this: XMLHttpRequest, method: string, url: string | URL) {
        requests.set(this, [method, absolute(String(url)), {}]);
        // Every argument passes through: the async flag, user and password included.
        return (natives.open as (...args: unknown[]) => void).apply(this, [...arguments]);
      } as typeof xhr.open;
      xhr.setRequestHeader = function (this: XMLHttpRequest, name: string, value: string) {
        const request = requests.get(this);
        if (request) request[2][name.toLowerCase()] = value;
        natives.setRequestHeader.call(this, name, value);
      };
      xhr.send = function (this: XMLHttpRequest, payload?: Document | XMLHttpRequestBodyInit | null) {
        const request = requests.get(this);
        if (request && !capture.ignore(request[1])) {
          const started = performance.now();
          const initiator = callerFrame();
          let error: string | undefined;
          const fail = (event: Event): void => {
            error = { error: 'NetworkError', abort: 'AbortError', timeout: 'TimeoutError' }[event.type];
          };
          for (const type of ['error', 'abort', 'timeout']) this.addEventListener(type, fail);
          this.addEventListener('loadend', () => {
            const text = this.responseType === '' || this.responseType === 'text' ? this.responseText : undefined;
            report(
              'xhr',
              request[0],
              request[1],
              started,
              initiator,
              this.status,
              payload,
              (name) => request[2][name],
              this.status ? (name) => this.getResponseHeader(name) : undefined,
              text,
              error,
            );
          });
        }
        natives.send.call(this, payload);
      };
      const wrappers = { open: xhr.open, send: xhr.send, setRequestHeader: xhr.setRequestHeader };

      const nav = win.navigator;
      const nativeBeacon = nav.sendBeacon as Navigator['sendBeacon'] | undefined;
      const beaconWrapper = (url: string | URL, data?: BodyInit | null): boolean => {
        const queued = nativeBeacon!.call(nav, url, data);
        const href = absolute(String(url));
        if (!capture.ignore(href)) {
          report('beacon', 'POST', href, performance.now(), callerFrame(), 0, data, () => null, undefined, undefined, queued ? undefined : 'sendBeacon: not queued');
        }
        return queued;
      };
      if (nativeBeacon) nav.sendBeacon = beaconWrapper;

      return () => {
        on = false;
        // The originals go back where ours is still in place; where a script wrapped ours
        // since, ours stays and only passes requests through.
        if (win.fetch === fetchWrapper) win.fetch = nativeFetch;
        if (nativeBeacon && nav.sendBeacon === beaconWrapper) nav.sendBeacon = nativeBeacon;
        for (const name of ['open', 'send', 'setRequestHeader'] as const) {
          if (xhr[name] === wrappers[name]) Object.assign(xhr, { [name]: natives[name] });
        }
      };
    },
  };
}
