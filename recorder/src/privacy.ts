/** What is never recorded: opt-out, Global Privacy Control, masked and blocked elements. */

import type { Config } from './options';
import { drop, load, save, SITE } from './storage';

const OPT_OUT_KEY = 'replaydesk:opt-out';

/** Password fields are blocked, not masked: their value is never read, not even its length. */
const BLOCK = 'input[type=password],.rd-block,.rr-block,[data-rd-block]';
const MEDIA = 'img,picture,video,audio,canvas,iframe,object,embed,svg image';
/** Text someone types outside form fields, in editable elements, is masked like an input. */
const MASK = '.rd-mask,.rr-mask,[data-rd-mask],[contenteditable]:not([contenteditable=false])';

export const isOptedOut = (): boolean => load(SITE, OPT_OUT_KEY) === true;

export const setOptedOut = (optedOut: boolean): void =>
  optedOut ? save(SITE, OPT_OUT_KEY, true) : drop(SITE, OPT_OUT_KEY);

export const sendsGlobalPrivacyControl = (): boolean =>
  (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl === true;

export interface Selectors {
  block: string;
  /** `*` when all text is masked. */
  mask: string;
}

export function privacySelectors(config: Config): Selectors {
  const join = (...parts: (string | false | undefined)[]): string => parts.filter(Boolean).join();
  return {
    block: join(BLOCK, config.blockMedia && MEDIA, config.blockSelector),
    mask: config.maskAllText ? '*' : join(MASK, config.maskTextSelector),
  };
}

/** rrweb's masking options: every input, select and textarea, whatever its type (hidden too). */
export const MASK_ALL_INPUTS: Record<string, boolean> = {};
for (const name of 'input textarea select color date datetime-local email month number range search tel text time url week password'.split(' ')) {
  MASK_ALL_INPUTS[name] = true;
}

/** A masked value says that something was entered, never what, nor how long it was. */
export const maskInput = (text: string): string => (text ? '******' : '');

/** Text as rrweb masks it: every visible character an asterisk. */
export const maskText = (text: string): string => text.replace(/\S/g, '*');
