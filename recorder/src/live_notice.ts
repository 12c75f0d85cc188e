/** "Support is viewing this page": shown to the customer while an agent watches live. */

const ID = 'replaydesk-live-notice';
// Inside the page but not in the recording: rrweb leaves an rr-block element as an empty box.
const STYLE =
  'position:fixed;z-index:2147483647;right:16px;bottom:16px;max-width:320px;padding:10px 14px;' +
  'border-radius:8px;background:#1f2937;color:#fff;font:14px/1.4 system-ui,sans-serif;' +
  'box-shadow:0 4px 16px rgba(0,0,0,.3);pointer-events:none';

export function showLiveNotice(): void {
  if (document.getElementById(ID) || !document.body) return;
  const notice = document.createElement('div');
  notice.id = ID;
  notice.className = 'rr-block';
  notice.setAttribute('role', 'status');
  notice.setAttribute('aria-live', 'polite');
  notice.style.cssText = STYLE;
  notice.textContent = 'Support is viewing this page';
  document.body.appendChild(notice);
}

export function hideLiveNotice(): void {
  document.getElementById(ID)?.remove();
}

const ASK_ID = 'replaydesk-live-ask';
const BUTTON = 'margin:8px 8px 0 0;padding:4px 12px;border-radius:6px;border:0;font:inherit;cursor:pointer';

/** Ask the customer whether support may watch live; `answer` gets their choice (once). */
export function askLiveConsent(answer: (granted: boolean) => void): void {
  if (document.getElementById(ASK_ID) || !document.body) return;
  const box = document.createElement('div');
  box.id = ASK_ID;
  box.className = 'rr-block';
  box.setAttribute('role', 'dialog');
  box.setAttribute('aria-label', 'Live support');
  box.style.cssText = STYLE.replace('pointer-events:none', 'pointer-events:auto');
  const text = document.createElement('p');
  text.style.margin = '0';
  text.textContent = 'Support would like to see this page as you use it.';
  const allow = document.createElement('button');
  allow.type = 'button';
  allow.textContent = 'Allow';
  allow.style.cssText = BUTTON + ';background:#2563eb;color:#fff';
  const decline = document.createElement('button');
  decline.type = 'button';
  decline.textContent = 'Not now';
  decline.style.cssText = BUTTON + ';background:#4b5563;color:#fff';
  const done = (granted: boolean): void => {
    box.remove();
    answer(granted);
  };
  allow.addEventListener('click', () => done(true));
  decline.addEventListener('click', () => done(false));
  box.append(text, allow, decline);
  document.body.appendChild(box);
  allow.focus({ preventScroll: true });
}

export function withdrawLiveConsentQuestion(): void {
  document.getElementById(ASK_ID)?.remove();
}
