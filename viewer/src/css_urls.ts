// The URLs in a piece of CSS (`url(...)`, `@import "..."`, `image-set("...")`), rewritten in
// place. A small scanner that knows comments, strings and escapes: enough to find every URL a
// browser would load, never to validate the CSS around them.

/** What to put in place of each URL the CSS loads (`imported` for `@import`). */
export type UrlReplacer = (url: string, imported: boolean) => string;

const URL_FUNCTIONS = new Set(["url", "src"]);
// Functions whose quoted arguments are URLs.
const STRING_URL_FUNCTIONS = new Set(["url", "src", "image-set", "-webkit-image-set"]);

/** A CSS string holding `text` (quotes, backslashes and line breaks escaped). */
export function cssString(text: string): string {
  return `"${text.replace(/["\\\n\r\f]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `)}"`;
}

function unescape(text: string): string {
  return text.replace(
    /\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(\n)|([\s\S]))/g,
    (_, hex: string | undefined, newline: string | undefined, other: string | undefined) => {
      if (hex) {
        const code = parseInt(hex, 16);
        return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? "\ufffd" : String.fromCodePoint(code);
      }
      return newline ? "" : (other ?? "");
    },
  );
}

const isNameChar = (c: string): boolean => /[A-Za-z0-9_\-\u0080-\uffff]/.test(c);

/** The string starting at `start` (its quote): its value and where it ends. */
function readString(css: string, start: number): [string, number] {
  const quote = css[start];
  let j = start + 1;
  while (j < css.length && css[j] !== quote && css[j] !== "\n") j += css[j] === "\\" ? 2 : 1;
  const end = Math.min(j, css.length);
  return [unescape(css.slice(start + 1, end)), Math.min(end + 1, css.length)];
}

/** The unquoted URL of `url(` starting at `start` (after the parenthesis), and where it ends. */
function readBareUrl(css: string, start: number): [string, number] {
  let j = start;
  while (j < css.length && css[j] !== ")") j += css[j] === "\\" ? 2 : 1;
  return [unescape(css.slice(start, Math.min(j, css.length)).trim()), Math.min(j + 1, css.length)];
}

// Text with none of these loads nothing (an escape could spell any of them, hence `\`): most
// style attributes and rules, returned as they are without being scanned.
const MAY_LOAD = /url|@import|src|image-set|\\/i;

/** `css` with every URL it loads replaced by `replace`'s answer; the rest as written. */
export function rewriteCssUrls(css: string, replace: UrlReplacer): string {
  if (!MAY_LOAD.test(css)) return css;
  let out = "";
  let i = 0;
  const n = css.length;
  const functions: string[] = []; // the open functions ("" for plain parentheses), innermost last
  let afterImport = false;

  while (i < n) {
    const c = css[i]!;
    if (c === "/" && css[i + 1] === "*") {
      const end = css.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      out += css.slice(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const [value, end] = readString(css, i);
      const inner = functions[functions.length - 1];
      if (afterImport) {
        // `@import "x"`, or `@import url("x")` (inside the function already).
        const url = replace(value, true);
        out += inner !== undefined && URL_FUNCTIONS.has(inner) ? cssString(url) : `url(${cssString(url)})`;
        afterImport = false;
      } else if (inner !== undefined && STRING_URL_FUNCTIONS.has(inner)) {
        out += cssString(replace(value, false));
      } else {
        out += css.slice(i, end);
      }
      i = end;
    } else if (c === "\\") {
      out += css.slice(i, i + 2);
      i += 2;
    } else if (c === "@" && /^@import(?![A-Za-z0-9_-])/i.test(css.slice(i, i + 8))) {
      out += "@import";
      i += 7;
      afterImport = true;
    } else if (isNameChar(c)) {
      let j = i;
      while (j < n && (isNameChar(css[j]!) || css[j] === "\\")) j += css[j] === "\\" ? 2 : 1;
      j = Math.min(j, n);
      const name = unescape(css.slice(i, j)).toLowerCase();
      if (css[j] !== "(") {
        out += css.slice(i, j);
        i = j;
        continue;
      }
      let k = j + 1;
      while (k < n && /\s/.test(css[k]!)) k++;
      if (URL_FUNCTIONS.has(name) && css[k] !== '"' && css[k] !== "'") {
        const [url, end] = readBareUrl(css, k);
        out += `url(${cssString(replace(url, afterImport))})`;
        afterImport = false;
        i = end;
        continue;
      }
      functions.push(name);
      out += css.slice(i, j + 1);
      i = j + 1;
    } else {
      if (c === "(") functions.push("");
      else if (c === ")") {
        functions.pop();
        if (functions.length === 0) afterImport = false;
      } else if (c === ";" || c === "{" || c === "}") afterImport = false;
      out += c;
      i++;
    }
  }
  return out;
}
