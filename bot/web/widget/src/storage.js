// What survives a reload in the same tab: the patient's token, the transcript, messages not yet
// sent, the draft and whether the panel was open. sessionStorage only — never localStorage or
// cookies — because patients use shared computers, and closing the tab must forget everything.

const MAX_TRANSCRIPT = 300;

/**
 * Whose conversation a token opens: its "sub" claim, read without verifying (the server
 * verifies; here it only decides whether the transcript on screen belongs to the same person).
 */
export function patientOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
    if (typeof claims.sub === "string" && claims.sub) return claims.sub;
  } catch {
    /* not a JWT: fall through */
  }
  return token;
}

function safeSession() {
  try {
    const store = window.sessionStorage;
    const probe = "__companion_probe__";
    store.setItem(probe, "1");
    store.removeItem(probe);
    return store;
  } catch {
    // Storage disabled (privacy settings, sandboxed frames): keep the conversation in memory only.
    return null;
  }
}

export class SessionState {
  constructor(clinic) {
    this.key = `companion-widget:${clinic}`;
    this.store = safeSession();
    this.data = {
      token: null,
      patient: null,
      transcript: [],
      outbox: [],
      open: false,
      draft: "",
      // The version of the clinic's consent text this patient agreed to, as the server said.
      consent: null,
    };
    if (this.store) {
      try {
        const saved = JSON.parse(this.store.getItem(this.key) || "null");
        if (saved && typeof saved === "object") {
          this.data = {
            token: typeof saved.token === "string" ? saved.token : null,
            patient: typeof saved.patient === "string" ? saved.patient : null,
            transcript: Array.isArray(saved.transcript) ? saved.transcript : [],
            outbox: Array.isArray(saved.outbox) ? saved.outbox : [],
            open: saved.open === true,
            draft: typeof saved.draft === "string" ? saved.draft : "",
            consent: Number.isInteger(saved.consent) ? saved.consent : null,
          };
        }
      } catch {
        // A corrupt entry is worth less than a working widget: start afresh.
      }
    }
  }

  save() {
    if (!this.store) return;
    const transcript = this.data.transcript;
    if (transcript.length > MAX_TRANSCRIPT) {
      transcript.splice(0, transcript.length - MAX_TRANSCRIPT);
    }
    try {
      this.store.setItem(this.key, JSON.stringify(this.data));
    } catch {
      // Quota exceeded: drop the oldest half of the transcript and try once more.
      transcript.splice(0, Math.ceil(transcript.length / 2));
      try {
        this.store.setItem(this.key, JSON.stringify(this.data));
      } catch {
        /* keep going in memory */
      }
    }
  }

  /**
   * A patient link opened in this tab (``fromLink``) for someone else than the transcript on
   * screen belongs to — a shared computer — starts afresh: the old transcript is forgotten and
   * the old patient's unsent messages are never sent under the new identity. A token this tab
   * fetched for itself (an anonymous demo session after the old one expired) continues the
   * same person's screen, so what they just typed is sent, not lost.
   */
  setToken(token, { fromLink = false } = {}) {
    const patient = patientOf(token);
    if (fromLink && this.data.patient !== null && patient !== this.data.patient) {
      this.data.transcript = [];
      this.data.outbox = [];
      this.data.draft = "";
    }
    if (patient !== this.data.patient) this.data.consent = null;
    this.data.token = token;
    this.data.patient = patient;
    this.save();
  }

  /** Forget a token that will never work again; whose screen this is stays known. */
  dropToken() {
    this.data.token = null;
    this.save();
  }
}
