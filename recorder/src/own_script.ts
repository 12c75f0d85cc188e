/** This script's own stack frames, which are never where the page's code did something. */

// Read while the script runs: `document.currentScript` is null afterwards.
export const OWN_SCRIPT = ((document.currentScript as HTMLScriptElement | null)?.src ?? '').split(/[?#]/)[0] ?? '';

export const isOwnFrame = (frame: string): boolean => OWN_SCRIPT !== '' && frame.includes(OWN_SCRIPT);

// Frames of the capture itself when this script's URL is unknown (bundled into the site's
// own script): the stack reader and the wrapper that called it.
const CAPTURE_FRAMES = 2;

/**
 * The frame of the page's code that called a wrapped API, as `function (file:line:column)`
 * like console traces, or undefined when the engine gives no stack.
 */
export function callerFrame(): string | undefined {
  try {
    return firstPageFrame();
  } catch {
    return undefined; // a request is never lost over its initiator
  }
}

function firstPageFrame(): string | undefined {
  const frames = (new Error().stack ?? '')
    .split('\n')
    .map((line) => line.trim())
    // V8 starts with the error's own line; Firefox and Safari write `function@file:line:column`.
    .filter((line) => line.startsWith('at ') || line.includes('@'))
    .map((line) => {
      const frame = line.replace(/^at /, '');
      const at = frame.lastIndexOf('@');
      return at < 0 ? frame : at === 0 ? frame.slice(1) : `${frame.slice(0, at)} (${frame.slice(at + 1)})`;
    });
  const outside = OWN_SCRIPT ? frames.find((frame) => !isOwnFrame(frame)) : frames[CAPTURE_FRAMES];
  return outside?.slice(0, 500);
}
