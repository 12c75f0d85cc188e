/** `replaydesk/click`: what a click hit, in words a support agent reads ("Place order"). */

import type { ClickLabelPayload } from '../../wire/payloads';
import { maskText, type Selectors } from './privacy';
import { scrubText } from './scrub';

const MAX_LABEL = 80;
const CLICKABLE =
  'button,a,input,select,textarea,label,summary,option,[role=button],[role=link],[role=menuitem],[role=tab],[role=checkbox],[onclick]';

const squash = (text: string | null | undefined): string =>
  (text || '').replace(/\s+/g, ' ').trim().slice(0, MAX_LABEL);

function selectorOf(el: Element, tag: string): string {
  const name = el.getAttribute('name');
  const classes = [...el.classList].slice(0, 2).join('.');
  return tag + (el.id ? '#' + el.id : name ? `[name="${name}"]` : classes ? '.' + classes : '');
}

/** Never an input's value: a field is named by its aria-label, label, title or placeholder. */
function wordsOf(el: Element, field: boolean): string {
  const attribute = (name: string): string => squash(el.getAttribute(name));
  return (
    attribute('aria-label') ||
    squash(field ? (el as HTMLInputElement).labels?.[0]?.textContent : el.textContent) ||
    attribute('title') ||
    (field ? attribute('placeholder') : squash(el.querySelector('img[alt]')?.getAttribute('alt')))
  );
}

/** The label of a click on `target`, masked wherever the element's text is masked. */
export function clickLabel(target: EventTarget | null, selectors: Selectors): ClickLabelPayload | null {
  if (!(target instanceof Element)) return null;
  const el = target.closest(CLICKABLE) || target;
  const tag = el.tagName.toLowerCase();
  const label = wordsOf(el, /^(?:input|select|textarea)$/.test(tag));
  const hidden = selectors.block + ',' + selectors.mask;
  let masked = true;
  try {
    // A label from an element's text includes the text of masked elements inside it.
    masked = selectors.mask === '*' || !!el.closest(hidden) || !!el.querySelector(hidden);
  } catch {
    // A site's selector that is not valid CSS: mask rather than guess.
  }
  const click: ClickLabelPayload = { selector: scrubText(selectorOf(el, tag)), tag };
  if (label) click.label = masked ? maskText(label) : scrubText(label);
  return click;
}
