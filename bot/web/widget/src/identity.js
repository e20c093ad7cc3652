// Who the patient is: a signed token from the clinic's invite link. Looked for in the script
// tag (data-token), then in the page address when the page loads (#companion-token=...,
// removed at once so it is not left in the address bar, history or a screenshot; a fragment
// changed later is only offered, see Widget.offerLink), then in this tab's sessionStorage.
// Only if none is found, and the clinic allows it, an anonymous session is requested.

import { fetchJson } from "./config.js";

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

export class IdentityError extends Error {}

/** POST the clinic's anonymous-session URL and return the token it issues. */
export async function anonymousToken(config) {
  if (!config.allow_anonymous || !config.anonymous_session_url) {
    throw new IdentityError(
      "This chat needs your personal link from your clinic. Please open the link they gave you.",
    );
  }
  let response;
  try {
    response = await fetchJson(config.anonymous_session_url, { method: "POST" });
  } catch {
    throw new IdentityError("The chat can't be reached right now. Please try again in a moment.");
  }
  const { ok, body } = response;
  if (ok && body && typeof body.token === "string" && body.token) return body.token;
  const message = body && typeof body.message === "string" ? body.message : null;
  throw new IdentityError(message || "The chat could not be started. Please try again later.");
}
