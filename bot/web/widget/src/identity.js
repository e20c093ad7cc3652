// Who the patient is: a signed token from the clinic's invite link. Looked for in the script
// tag (data-token), then in the page address when the page loads (#companion-token=...,
// removed at once so it is not left in the address bar, history or a screenshot; a fragment
// changed later is only offered, see Widget.offerLink), then in this tab's sessionStorage.
// Only if none is found, and the clinic allows it, an anonymous session is requested.

import { fetchJson, refusal } from "./config.js";

const FRAGMENT_KEY = "companion-token";

/** Take the token out of the URL fragment and the address bar. */
export function takeFragmentToken() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return null;
  let token = null;
  const rest = [];
  for (const part of hash.split("&")) {
    if (part.startsWith(`${FRAGMENT_KEY}=`)) {
      try {
        token = decodeURIComponent(part.slice(FRAGMENT_KEY.length + 1));
      } catch {
        token = null;
      }
    } else if (part) {
      rest.push(part);
    }
  }
  if (token === null) return null;
  try {
    const { pathname, search } = window.location;
    const url = pathname + search + (rest.length ? `#${rest.join("&")}` : "");
    window.history.replaceState(window.history.state, "", url);
  } catch {
    /* a sandboxed page may refuse; the token still works */
  }
  return token || null;
}

/** No token for this visitor: ``message`` for the patient, ``refusal`` the server's reason. */
export class IdentityError extends Error {
  constructor(message, found = null) {
    super(message);
    this.refusal = found;
  }
}

/**
 * POST the clinic's anonymous-session URL and return the token it issues. Only called when
 * the configuration lets visitors chat without a personal link (config.link_required null).
 */
export async function anonymousToken(config) {
  if (!config.anonymous_session_url) {
    throw new IdentityError("The chat could not be started. Please try again later.");
  }
  let response;
  try {
    response = await fetchJson(config.anonymous_session_url, { method: "POST" });
  } catch {
    throw new IdentityError("The chat can't be reached right now. Please try again in a moment.");
  }
  const { ok, body } = response;
  if (ok && body && typeof body.token === "string" && body.token) return body.token;
  const found = refusal(body);
  throw new IdentityError(
    found ? found.message : "The chat could not be started. Please try again later.",
    found,
  );
}
