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
