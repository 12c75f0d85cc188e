/** Removal of personal data and credentials from text, URLs and bodies before they are sent.
 *
 * The core rules of the service's own scrubbing (service/ingest/scrubbing.py): the service scrubs
 * again, with more patterns; this keeps the common cases from leaving the browser at all. */

const SECRET = '[secret]';
const EMAIL = /[\w.%+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}/g;
// Issuer prefixes 2-6; unseparated or in the groupings issuers print (4-4-4-4[-n], 4-6-5).
const CARD = /(^|\D)([2-6](?:\d{12,18}|\d{3}(?:[ -]\d{4}){3}(?:[ -]\d{1,3})?|\d{3}[ -]\d{6}[ -]\d{4,5}))(?!\d)/g;
const AUTH = /\b(bearer|basic)[ \t]+([\w.~+/=-]+)/gi;
const JWT = /eyJ[\w-]*\.[\w-]+\.[\w-]*/g;
const PARAM = /(^|[?&;#])([^=&;#?\s]+)=([^&;#?\s]*)/g;
const JSON_MEMBER = /"([^"\\]{1,100})"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
const SENSITIVE_NAME =
  /^(?:key|auth|authorization|pwd|sid|sig|code|jwt|otp)$|token(?!_type)|secret|passw|signature|credential|api.?key|session(?!_state)|sessid/i;

function isCard(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = +digits[digits.length - 1 - i]!;
    if (i % 2 && (d *= 2) > 9) d -= 9;
    sum += d;
  }
  return digits.length > 12 && sum % 10 === 0;
}

function card(match: string, before: string, candidate: string): string {
  // The optional short last group may have swallowed a number after the card ("... 12/27").
  const cut = Math.max(candidate.lastIndexOf(' '), candidate.lastIndexOf('-'));
  return isCard(candidate)
    ? before + '[card]'
    : cut > 0 && isCard(candidate.slice(0, cut))
      ? before + '[card]' + candidate.slice(cut)
      : match;
}

/** E-mail addresses, card numbers, auth tokens and JWTs, replaced. */
export const scrubText = (text: string): string =>
  text
    .replace(AUTH, (match, scheme: string, token: string) =>
      // "Basic information" is prose; a credential has digits, symbols or mixed case.
      /[\d+/=._~-]|.[A-Z]/.test(token) ? scheme + ' ' + SECRET : match,
    )
    .replace(JWT, '[jwt]')
    .replace(EMAIL, '[email]')
    .replace(CARD, card);

const isSensitiveName = (name: string): boolean => SENSITIVE_NAME.test(name);

const blankParams = (text: string): string =>
  text.replace(PARAM, (match, separator: string, name: string, value: string) =>
    value && isSensitiveName(name) ? separator + name + '=' + SECRET : match,
  );

/** Sensitive parameter values and userinfo passwords blanked, then `scrubText`. */
export function scrubUrl(url: string): string {
  const cut = url.search(/[?#;]/);
  if (cut >= 0) url = url.slice(0, cut) + blankParams(url.slice(cut));
  return scrubText(url.replace(/^([a-z][\w+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, '$1:' + SECRET + '@'));
}

/** `scrubText` plus sensitive JSON string members and form fields blanked. */
export const scrubBody = (body: string): string =>
  scrubText(
    blankParams(
      body.replace(JSON_MEMBER, (match, name: string, colon: string, value: string) =>
        // In JSON, "code" is nearly always an error code, which triage needs.
        value && name !== 'code' && isSensitiveName(name) ? `"${name}"${colon}"${SECRET}"` : match,
      ),
    ),
  );
