// The clinic's chat widget. A clinic embeds it with one tag:
//   <script src="https://HOST/widget.js" data-clinic="SLUG" async></script>
// It renders inside a shadow root, talks to the Rasa server over socket.io with the patient's
// token, and keeps this tab's conversation in sessionStorage so a reload does not lose it.

import { io } from "socket.io-client";
import { DEFAULT_CONFIG, fetchJson, loadConfig, telHref, textOn } from "./config.js";
import { el, srOnly } from "./dom.js";
import { IdentityError, anonymousToken, takeFragmentToken } from "./identity.js";
import { SessionState } from "./storage.js";
import STARTERS from "./starters.json";
import { CSS } from "./styles.js";

const STARTED = Symbol.for("companion-widget.started");
const SVG_NS = "http://www.w3.org/2000/svg";
// Rasa sends nothing at all when an action fails (e.g. the action server is down): after
// this long without a reply the patient is told, rather than left watching the dots.
const NO_REPLY_MS = 30000;
const RETRY_UNAVAILABLE_MS = 15000;
// Bounds for the server's retry_after (seconds), whatever it says.
const RATE_RETRY_MIN_S = 1;
const RATE_RETRY_MAX_S = 300;
// One note about the rate limit per minute at most, however many messages it refuses.
const RATE_NOTE_INTERVAL_MS = 60000;
// Messages remembered after sending, so a rate_limited event can name which to send again.
const SENT_REMEMBERED = 100;
// Where the web app serves a patient's own data (the "download my data" links), and where the
// widget asks for such a link with the patient's token when a download button is pressed.
const MY_DATA_PATH = "/api/my-data/";
const MY_DATA_LINK_PATH = "/api/my-data";
// Where the widget erases the patient's data with their token (offered once consent is withdrawn).
const MY_DATA_ERASE_PATH = "/api/my-data/erase";
// Refusals after which this token will never work again, so it is forgotten.
const DEAD_TOKEN = new Set([
  "expired",
  "revoked",
  "malformed_token",
  "invalid_signature",
  "missing_token",
  "anonymous_not_allowed",
  "wrong_clinic",
]);
// Refusals that name how this page or clinic is set up: no retry helps, so the widget says
// the server's words once, disables the composer and tells the web developer in the console.
const SETUP_PROBLEMS = new Set([
  "unknown_clinic",
  "origin_not_allowed",
  "anonymous_not_allowed",
  "anonymous_off",
]);
// Of those, the ones a personal link puts right.
const LINK_CURES = new Set(["anonymous_not_allowed", "anonymous_off"]);

const TEXT = {
  notice:
    "You are chatting with an automated assistant, not a therapist. Nobody watches this chat " +
    "in real time. If you need help now, use \u201cGet help now\u201d.",
  connecting: "Connecting\u2026",
  lost:
    "Connection lost. Trying to reconnect\u2026 Anything you send will be delivered when " +
    "the connection is back.",
  unreachable:
    "Can\u2019t reach the assistant right now. Trying again\u2026 If you need help now, use " +
    "\u201cGet help now\u201d.",
  back: "Connected again.",
  configFailed:
    "The chat is not available right now. If you need help now, use \u201cGet help now\u201d.",
  helpNow: "If you need help now, use \u201cGet help now\u201d.",
  typing: "The assistant is typing\u2026",
  noReply:
    "The assistant has not answered. Please try again in a moment. If you need help now, " +
    "use \u201cGet help now\u201d.",
  notSent: "Not sent yet",
  resending: "Your message will be sent again by itself in a few seconds.",
  downloadDefault: "Download my data",
  readableDefault: "Readable copy (web page)",
  chooseAny: "Choose any that fit",
  sendChoices: "Send",
  sendChoicesName: "Send the ones I chose",
  downloadFailed: "The download could not be prepared just now. Please try again in a moment.",
  linkOffer:
    "A different chat link was opened in this page. Your messages still go to the " +
    "conversation shown here. If the new link is yours, switch to it: this conversation " +
    "will then be closed on this screen.",
  linkSwitch: "Use the new link",
  consentHelp: "If you are in danger, or thinking about harming yourself, call now:",
  consentFailed:
    "Your agreement could not be recorded just now. Please try again in a moment. If you " +
    "need help now, use \u201cGet help now\u201d.",
  erase: "Delete my data",
  eraseConfirm: "Delete your journal, our conversations and your safety notes? This can\u2019t be undone.",
  eraseYes: "Yes, delete everything",
  eraseFailed: "Your data could not be deleted just now. Please try again in a moment.",
};

function findScript() {
  // document.currentScript is null once an async script runs from a cache or a later tick.
  const current = document.currentScript;
  if (current && current.hasAttribute("data-clinic")) return current;
  const started = window[STARTED] || new Set();
  const candidates = document.querySelectorAll('script[data-clinic][src*="widget.js"]');
  for (const script of candidates) {
    if (!started.has(script.getAttribute("data-clinic").trim())) return script;
  }
  return null;
}

function chatIcon() {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute(
    "d",
    "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
  );
  svg.appendChild(path);
  return svg;
}

function newId() {
  return `m${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

function quickReplies(value) {
  if (!Array.isArray(value)) return [];
  return value
    .filter((reply) => reply && typeof reply.title === "string" && reply.title.trim())
    .slice(0, 12)
    .map((reply) => ({
      title: reply.title,
      payload: typeof reply.payload === "string" && reply.payload ? reply.payload : reply.title,
    }));
}

/**
 * A question that takes several of its suggested replies at once (e.g. the HALT check):
 * {exclusive}, the payloads that stand alone ("none") and are sent at once, or null.
 */
function multiSelect(value) {
  if (!value || typeof value !== "object") return null;
  const exclusive = Array.isArray(value.exclusive)
    ? value.exclusive.filter((payload) => typeof payload === "string" && payload)
    : [];
  return { exclusive };
}

function attachmentLink(value) {
  const src = value && value.payload && (value.payload.src || value.payload.url);
  if (typeof src !== "string") return null;
  try {
    const url = new URL(src);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * A "download my data" payload: {url, label}, or null. A blank url is the chat's offer: the
 * link is asked for when the button is pressed, so it is never part of a message (nor of the
 * conversation the clinic keeps). Whether a url becomes a link is decided when it is shown
 * (ownDataUrl), so a stored transcript is checked again on every render.
 */
function downloadOffer(value) {
  if (!value || typeof value !== "object" || typeof value.url !== "string") return null;
  const label = typeof value.label === "string" && value.label.trim() ? value.label.trim() : "";
  const offer = { url: value.url, label };
  if (typeof value.readable_url === "string" && (value.readable_url || !value.url)) {
    offer.readable_url = value.readable_url;
    const readable = value.readable_label;
    offer.readable_label = typeof readable === "string" && readable.trim() ? readable.trim() : "";
  }
  return offer;
}

/**
 * The set-up problem an error names ({reason, message, hint}: a ConfigError's or an
 * IdentityError's refusal), or null (an outage, a network error).
 */
function setupProblem(error) {
  const found = error && error.refusal;
  return found && SETUP_PROBLEMS.has(found.reason) ? found : null;
}

/**
 * Only a URL on the web app that served this script, under /api/my-data/, becomes a link: a
 * message can never turn the chat into a link to somewhere else. (The URL parser resolves
 * "..", so "/api/my-data/../x" is "/x".)
 */
function ownDataUrl(url, base) {
  try {
    const target = new URL(url);
    const own = new URL(base);
    if (target.protocol !== "http:" && target.protocol !== "https:") return null;
    if (target.origin !== own.origin || !target.pathname.startsWith(MY_DATA_PATH)) return null;
    return target.href;
  } catch {
    return null;
  }
}

class Widget {
  constructor({ slug, base, explicitToken, openOnStart = false }) {
    this.slug = slug;
    this.base = base;
    this.state = new SessionState(slug);
    if (explicitToken) this.state.setToken(explicitToken, { fromLink: true });
    // A patient who opened their personal link came to chat: the panel opens by itself.
    this.openOnStart = openOnStart;
    this.config = null;
    // A set-up problem ({reason, message, hint}) that keeps this page from chatting.
    this.problem = null;
    this.socket = null;
    this.ready = false;
    this.everReady = false;
    this.starting = false;
    this.typingTimer = null;
    this.statusTimer = null;
    this.serverDisconnects = 0;
    this.fullScreen = window.matchMedia("(max-width: 600px)");
    // Sent since the last reply: if the server refuses them (access_denied) they go back
    // into the outbox, so a message is never silently lost.
    this.unanswered = [];
    this.retryTimer = null;
    // The server's rate limit: sending waits until holdUntil (ms), then the queue goes out.
    this.sent = [];
    this.lastSeq = 0;
    this.holdUntil = 0;
    this.holdTimer = null;
    this.rateNotedAt = -Infinity;
    this.greeting = null;
    this.pendingLink = null;
    this.linkOffer = null;
    // The consent text on screen (nothing is sent before "I agree"), and the version whose
    // "I agree" waits for the connection.
    this.consentScreen = null;
    this.agreeing = null;
  }

  async start() {
    let problem = null;
    try {
      this.config = await loadConfig(this.base, this.slug);
    } catch (error) {
      this.config = null;
      problem = setupProblem(error);
    }
    // Without a configuration the widget still appears: its crisis numbers are the defaults.
    this.mount();
    if (this.config) this.applyConfig(this.config);
    if (problem) this.block(problem);
    else if (!this.config) this.addSystem(TEXT.configFailed);
    else if (!this.checkLinkNeeded() && this.needsConsent()) this.showConsent();
    if (this.pendingLink) this.showLinkOffer();
    if (this.state.data.open || this.openOnStart) this.open({ focus: false });
    else if (this.state.data.outbox.length) this.ensureConnection();
  }

  /** Without a token, at a clinic that needs a personal link, say so before anything else. */
  checkLinkNeeded() {
    if (this.state.data.token || !this.config || !this.config.link_required) return false;
    this.block(this.config.link_required);
    return true;
  }

  /**
   * A set-up problem: said once, in the server's words for the patient, with the way to
   * crisis help; the composer and suggested replies are disabled, as nothing sent could
   * arrive; the web developer reads the hint in the console. ``quiet`` leaves out the words
   * when a refusal just said why.
   */
  block(problem, { quiet = false } = {}) {
    if (this.problem) return;
    this.problem = problem;
    this.setStatus("");
    if (!quiet) {
      this.addSystem(`${problem.message} ${TEXT.helpNow}`);
      if (problem.hint) console.error(`Chat widget (data-clinic="${this.slug}"): ${problem.hint}`);
    }
    this.input.disabled = true;
    this.sendButton.disabled = true;
    this.settleReplies();
  }

  /** A personal link arrived: the chat may start after all. */
  unblock() {
    if (!this.problem || !LINK_CURES.has(this.problem.reason)) return;
    this.problem = null;
    this.input.disabled = false;
    this.sendButton.disabled = false;
    this.settleReplies();
  }

  /**
   * A patient link whose fragment changed while the page stayed open. Another window can do
   * that unseen (a page that opened this tab, a link the patient was lured to), so the token
   * is not adopted: the conversation on screen stays, and the person is asked. Only their
   * press of the button switches to the new link.
   */
  offerLink(token) {
    if (token === this.state.data.token) return;
    this.pendingLink = token;
    if (this.host) this.showLinkOffer();
  }

  showLinkOffer() {
    if (this.linkOffer) this.linkOffer.remove();
    const token = this.pendingLink;
    if (!token) return;
    const offer = el(
      "div",
      { class: "system link-offer" },
      el("p", {}, TEXT.linkOffer),
      el(
        "button",
        {
          type: "button",
          onclick: () => {
            offer.remove();
            this.linkOffer = null;
            this.pendingLink = null;
            this.switchToLink(token);
          },
        },
        TEXT.linkSwitch,
      ),
    );
    this.linkOffer = offer;
    this.log.appendChild(offer);
    this.scrollToEnd();
    if (this.panel.hidden) this.unread.hidden = false;
  }

  /** A new patient link the person chose to use: its conversation replaces what is shown. */
  switchToLink(token) {
    const before = this.state.data.patient;
    this.state.setToken(token, { fromLink: true });
    if (!this.host) return; // not mounted yet: start() reads the new state
    this.unblock();
    if (this.needsConsent()) this.showConsent();
    const old = this.socket;
    this.socket = null;
    if (old) old.disconnect();
    this.ready = false;
    this.everReady = false;
    this.unanswered = [];
    clearTimeout(this.retryTimer);
    this.showTyping(false);
    this.setStatus("");
    if (this.state.data.patient !== before) {
      const items = this.state.data.transcript.map((item) => this.renderItem(item));
      this.log.replaceChildren(...(this.greeting ? [this.greeting] : []), ...items);
      this.input.value = this.state.data.draft;
      this.settleReplies();
    }
    if (!this.panel.hidden || this.state.data.outbox.length) this.ensureConnection();
  }

  // ------------------------------------------------------------------ consent
  /** Whether this patient has yet to agree to the clinic's current consent text. */
  needsConsent() {
    const consent = this.config && this.config.consent;
    if (!consent) return false;
    const agreed = this.state.data.consent;
    return !Number.isInteger(agreed) || agreed < consent.version;
  }

  /**
   * The clinic's consent text, with its crisis numbers and "I agree", above the conversation;
   * the composer and suggested replies wait for the agreement. ``note`` says why it is shown
   * again (the text changed, consent was withdrawn); a patient who withdrew is offered a copy
   * of their data and its erasure here, since the chat keeps nothing more.
   */
  showConsent(note = "", { withdrawn = false } = {}) {
    const consent = this.config && this.config.consent;
    if (!consent) return;
    if (this.consentScreen) this.consentScreen.remove();
    const title = el("h3", { id: "companion-consent-title", tabindex: "-1" }, consent.title);
    this.agreeButton = el(
      "button",
      {
        type: "button",
        class: "agree",
        "aria-describedby": "companion-consent-title",
        onclick: () => this.agree(),
      },
      consent.agree,
    );
    const help = el(
      "div",
      { class: "consent-help" },
      el("p", {}, TEXT.consentHelp),
      el("ul", { "aria-label": "Crisis numbers" }, this.crisisItems(this.config.crisis_lines)),
    );
    const extras = withdrawn ? this.dataRightsButtons() : [];
    this.consentScreen = el(
      "section",
      { class: "consent", "aria-labelledby": "companion-consent-title" },
      title,
      note ? el("p", { class: "consent-note", role: "status" }, note) : null,
      help,
      consent.paragraphs.map((paragraph) => el("p", {}, paragraph)),
      el("div", { class: "consent-actions" }, this.agreeButton, extras),
      consent.not_yet ? el("p", { class: "hint" }, consent.not_yet) : null,
    );
    this.consentTitle = title;
    this.body.insertBefore(this.consentScreen, this.log);
    this.input.disabled = true;
    this.sendButton.disabled = true;
    this.settleReplies();
    this.body.scrollTop = 0;
    if (!this.panel.hidden) title.focus();
  }

  hideConsent() {
    if (!this.consentScreen) return;
    this.consentScreen.remove();
    this.consentScreen = null;
    if (!this.problem) {
      this.input.disabled = false;
      this.sendButton.disabled = false;
    }
    this.settleReplies();
    this.scrollToEnd();
    if (!this.panel.hidden) this.input.focus();
  }

  /** "Download my data" and "Delete my data", for a patient who withdrew consent. */
  dataRightsButtons() {
    const download = this.renderDownloadButtons({ url: "", readable_url: "" }, TEXT.downloadDefault);
    const erase = el(
      "button",
      { type: "button", class: "erase", onclick: () => this.confirmErase(erase) },
      TEXT.erase,
    );
    return [download, erase];
  }

  confirmErase(button) {
    const yes = el(
      "button",
      { type: "button", class: "erase", onclick: () => this.erase(yes, question) },
      TEXT.eraseYes,
    );
    const question = el("div", { role: "group" }, el("p", {}, TEXT.eraseConfirm), yes);
    button.replaceWith(question);
    yes.focus();
  }

  async erase(button, question) {
    const token = this.state.data.token;
    button.disabled = true;
    let message = TEXT.eraseFailed;
    try {
      if (token) {
        const { body } = await fetchJson(`${this.base}${MY_DATA_ERASE_PATH}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}` },
        });
        if (body && typeof body.message === "string") message = body.message;
      }
    } catch {
      /* said below */
    }
    const said = el("p", { class: "consent-note", role: "status" }, message);
    question.replaceWith(said);
  }

  /** "I agree": sent with the version shown, once the connection is there. */
  agree() {
    const consent = this.config && this.config.consent;
    if (!consent || this.problem) return;
    this.agreeing = consent.version;
    this.agreeButton.disabled = true;
    this.agreeButton.setAttribute("aria-busy", "true");
    if (this.ready && this.socket) this.sendAgreement();
    else this.ensureConnection();
  }

  sendAgreement() {
    if (this.agreeing === null || !this.socket) return;
    this.socket.emit("consent", { version: this.agreeing });
  }

  /** The server says where this patient stands with the clinic's consent text. */
  async consentStatus(data) {
    if (!data || typeof data !== "object" || !this.config || !this.config.consent) return;
    const waiting = this.agreeing !== null;
    // The status sent as the connection opens may come before the answer to an "I agree"
    // pressed meanwhile, which is sent right after it: keep waiting for that answer.
    if (waiting && data.current !== true && !data.error) return;
    this.agreeing = null;
    if (data.current === true && Number.isInteger(data.version)) {
      this.state.data.consent = data.version;
      this.state.save();
      if (this.needsConsent()) await this.reloadConsent();
      if (!this.needsConsent()) {
        this.hideConsent();
        this.flush();
      }
      return;
    }
    this.state.data.consent = null;
    this.state.save();
    if (Number.isInteger(data.version) && data.version !== this.config.consent.version) {
      await this.reloadConsent();
    }
    let note = "";
    if (data.error === "consent_changed" || data.agreed_version) note = this.config.consent.changed;
    if (data.withdrawn_at) note = this.config.consent.withdrawn;
    if (data.error && data.error !== "consent_changed") {
      note = typeof data.message === "string" ? data.message : TEXT.consentFailed;
    }
    if (waiting || !this.consentScreen || note) {
      this.showConsent(note, { withdrawn: Boolean(data.withdrawn_at) });
    }
  }

  /** The clinic changed its text since the configuration was read: read it again. */
  async reloadConsent() {
    try {
      this.config = await loadConfig(this.base, this.slug);
    } catch {
      /* the text on screen stays; the server refuses an outdated agreement anyway */
    }
  }

  /** A message was not kept for want of consent: it waits, unsent, for the agreement. */
  consentRequired(data) {
    this.requeueUnanswered(data && typeof data.id === "string" ? data.id : null);
    this.showTyping(false);
    this.consentStatus({
      current: false,
      version: data && Number.isInteger(data.version) ? data.version : undefined,
      agreed_version: data && data.changed ? 1 : null,
    });
  }

  /** Consent was withdrawn in the chat: the text again, with the patient's data rights. */
  consentWithdrawn() {
    this.state.data.consent = null;
    this.state.save();
    if (this.config && this.config.consent) {
      this.showConsent(this.config.consent.withdrawn, { withdrawn: true });
    }
  }

  /** The clinic's name, colour, crisis numbers and greeting. */
  applyConfig(config) {
    this.root.style.setProperty("--companion-accent", config.accent_color);
    this.root.style.setProperty("--companion-on-accent", textOn(config.accent_color));
    this.title.textContent = config.name;
    this.launcherName.textContent = ` with ${config.name}`;
    this.panel.setAttribute("aria-label", `Chat with ${config.name}`);
    this.crisisList.replaceChildren(...this.crisisItems(config.crisis_lines));
    if (!this.greeting) {
      // The widget's own first message, so it offers the ways in that Rasa's greeting does.
      this.greeting = this.renderBot({ text: config.greeting, quick_replies: STARTERS });
      this.log.insertBefore(this.greeting, this.log.firstChild);
      this.settleReplies();
    }
  }

  crisisItems(lines) {
    return lines.map((line) =>
      el(
        "li",
        {},
        el("a", { href: telHref(line.number) }, line.number),
        el("span", { class: "line-name" }, line.name),
      ),
    );
  }

  // ------------------------------------------------------------------ building the UI
  mount() {
    const config = { ...DEFAULT_CONFIG, clinic: this.slug };
    const host = document.createElement("companion-chat");
    // Inline !important beats any rule in the clinic's stylesheets aimed at our element. Set
    // through the CSSOM: a style attribute would be refused by a page policy without
    // 'unsafe-inline'.
    host.style.setProperty("all", "initial", "important");
    const shadow = host.attachShadow({ mode: "open" });
    // A constructed stylesheet is not an inline <style>, so a strict page CSP allows it.
    const constructable = window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype;
    if ("adoptedStyleSheets" in shadow && constructable) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.appendChild(el("style", {}, CSS));
    }

    const root = el("div", { class: "root" });
    this.root = root;
    root.style.setProperty("--companion-accent", config.accent_color);
    root.style.setProperty("--companion-on-accent", textOn(config.accent_color));

    this.unread = el("span", { class: "unread", hidden: true }, srOnly(" (new message)"));
    this.launcher = el(
      "button",
      {
        type: "button",
        class: "launcher",
        "aria-controls": "companion-panel",
        "aria-expanded": "false",
        onclick: () => this.open(),
      },
      chatIcon(),
      el("span", {}, "Chat"),
      (this.launcherName = srOnly(` with ${config.name}`)),
      this.unread,
    );

    // "Get help now" is on screen whether the chat is open or not: closed, it sits above the
    // launcher and opens the panel straight on the crisis numbers.
    this.dockHelp = el(
      "button",
      { type: "button", class: "dock-help", onclick: () => this.openOnCrisis() },
      "Get help now",
    );
    this.dock = el("div", { class: "dock" }, this.dockHelp, this.launcher);

    this.helpButton = el(
      "button",
      {
        type: "button",
        class: "help",
        "aria-expanded": "false",
        "aria-controls": "companion-crisis",
        onclick: () => this.toggleCrisis(),
      },
      "Get help now",
    );
    const header = el(
      "div",
      { class: "header" },
      el(
        "div",
        { class: "titles" },
        (this.title = el("h2", { class: "title", id: "companion-title" }, config.name)),
        el("p", { class: "subtitle" }, "Automated assistant"),
        // The clinic's public page on what the assistant does about risk, in a new tab so
        // that the chat stays where it is.
        el(
          "p",
          { class: "safety-page" },
          el(
            "a",
            {
              href: `${this.base}/clinics/${encodeURIComponent(this.slug)}/safety`,
              target: "_blank",
              rel: "noopener noreferrer",
            },
            "How this chat keeps you safe",
            srOnly(" (opens in a new tab)"),
          ),
        ),
      ),
      this.helpButton,
      (this.closeButton = el(
        "button",
        { type: "button", class: "close", "aria-label": "Close chat", onclick: () => this.close() },
        el("span", { "aria-hidden": "true" }, "\u00d7"),
      )),
    );

    this.crisisTitle = el("h3", { id: "companion-crisis-title", tabindex: "-1" }, "Get help now");
    this.crisis = el(
      "section",
      {
        class: "crisis",
        id: "companion-crisis",
        "aria-labelledby": "companion-crisis-title",
        hidden: true,
      },
      this.crisisTitle,
      el("p", {}, "If you are in danger, or thinking about harming yourself, call now:"),
      (this.crisisList = el("ul", {}, this.crisisItems(config.crisis_lines))),
      el(
        "p",
        {},
        "This chat is automated and nobody watches it in real time: it cannot send help.",
      ),
    );

    this.log = el("div", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
    });
    this.typingDots = el(
      "span",
      { class: "typing-dots", hidden: true, "aria-hidden": "true" },
      el("span", { class: "dot" }),
      el("span", { class: "dot" }),
      el("span", { class: "dot" }),
    );
    this.typingText = el("span", { class: "sr-only" });
    this.body = el(
      "div",
      { class: "body" },
      el("p", { class: "notice" }, TEXT.notice),
      this.log,
      el("div", { class: "typing", role: "status" }, this.typingDots, this.typingText),
    );
    this.status = el("p", { class: "status", role: "status" });

    this.input = el("textarea", {
      id: "companion-input",
      rows: "1",
      maxlength: "4000",
      autocomplete: "off",
      placeholder: "Type a message",
      oninput: () => {
        this.state.data.draft = this.input.value;
        this.state.save();
        this.autoGrow();
      },
      onkeydown: (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.submit();
        }
      },
    });
    this.input.value = this.state.data.draft;
    const form = el(
      "form",
      {
        class: "composer",
        onsubmit: (event) => {
          event.preventDefault();
          this.submit();
        },
      },
      el("label", { for: "companion-input", class: "sr-only" }, "Message"),
      this.input,
      (this.sendButton = el("button", { type: "submit", class: "send" }, "Send")),
    );

    this.panel = el(
      "div",
      {
        class: "panel",
        id: "companion-panel",
        role: "dialog",
        "aria-label": `Chat with ${config.name}`,
        hidden: true,
        onkeydown: (event) => {
          if (event.key === "Escape") {
            event.stopPropagation();
            this.close();
          } else if (event.key === "Tab") {
            this.keepFocusInside(event);
          }
        },
      },
      header,
      this.crisis,
      this.body,
      this.status,
      form,
    );

    root.append(this.dock, this.panel);
    shadow.appendChild(root);
    document.body.appendChild(host);
    this.host = host;

    for (const item of this.state.data.transcript) this.log.appendChild(this.renderItem(item));
    this.settleReplies();
  }

  renderItem(item) {
    if (item.kind === "patient") return this.renderPatient(item);
    return this.renderBot(item);
  }

  renderBot(item) {
    const node = el("div", { class: "msg bot" });
    // A download sent on its own (a custom payload) has no words: no empty bubble for it.
    if (item.text || !item.download) {
      node.appendChild(el("p", { class: "bubble" }, srOnly("Assistant: "), item.text || ""));
    }
    if (item.link) {
      const attrs = {
        class: "link",
        href: item.link,
        target: "_blank",
        rel: "noopener noreferrer",
      };
      node.appendChild(el("a", attrs, item.link));
    }
    if (item.download) node.appendChild(this.renderDownload(item.download));
    const replies = item.quick_replies || [];
    if (replies.length && item.multi) node.appendChild(this.renderChoices(replies, item.multi));
    else if (replies.length) node.appendChild(this.renderReplies(replies));
    return node;
  }

  replyButton(reply) {
    return el(
      "button",
      { type: "button", class: "reply", onclick: () => this.send(reply.title, reply.payload) },
      reply.title,
    );
  }

  renderReplies(replies) {
    return el(
      "div",
      { class: "quick-replies", role: "group", "aria-label": "Suggested replies" },
      replies.map((reply) => this.replyButton(reply)),
    );
  }

  /**
   * Toggle chips and one "Send" for a question that takes several answers at once; an
   * exclusive reply ("None of these") stays an ordinary button that answers on its own.
   */
  renderChoices(replies, multi) {
    const exclusive = new Set(multi.exclusive);
    const chips = replies
      .filter((reply) => !exclusive.has(reply.payload))
      .map((reply) => {
        const chip = el(
          "button",
          {
            type: "button",
            class: "chip",
            "aria-pressed": "false",
            onclick: () => {
              const pressed = chip.getAttribute("aria-pressed") !== "true";
              chip.setAttribute("aria-pressed", String(pressed));
              this.settleReplies();
            },
          },
          reply.title,
        );
        chip.reply = reply;
        return chip;
      });
    const sendButton = el(
      "button",
      {
        type: "button",
        class: "choices-send",
        "aria-label": TEXT.sendChoicesName,
        onclick: () => this.sendChoices(chips),
      },
      TEXT.sendChoices,
    );
    const alone = replies.filter((reply) => exclusive.has(reply.payload));
    return el(
      "div",
      { class: "quick-replies choices", role: "group", "aria-label": TEXT.chooseAny },
      chips,
      alone.map((reply) => this.replyButton(reply)),
      sendButton,
    );
  }

  /** One message naming every chosen option, e.g. "hungry, tired". */
  sendChoices(chips) {
    const chosen = chips
      .filter((chip) => chip.getAttribute("aria-pressed") === "true")
      .map((chip) => chip.reply);
    if (!chosen.length) return;
    const intents = chosen.some((reply) => reply.payload.startsWith("/"));
    const text = chosen.map((reply) => reply.title).join(", ");
    const payload = intents ? text : chosen.map((reply) => reply.payload).join(", ");
    this.send(text, payload);
  }

  /**
   * Only the newest message's replies can be pressed, and only while it is the assistant's:
   * older ones (also in a transcript restored after a reload) answer nothing any more.
   */
  settleReplies() {
    const messages = this.log.querySelectorAll(".msg");
    const last = messages[messages.length - 1];
    const open = !this.problem && !this.consentScreen;
    const live = open && last && last.classList.contains("bot") ? last : null;
    for (const group of this.log.querySelectorAll(".quick-replies")) {
      const active = live !== null && live.contains(group);
      group.classList.toggle("answered", !active);
      const chosen = group.querySelector('.chip[aria-pressed="true"]') !== null;
      for (const button of group.querySelectorAll("button")) {
        const waiting = button.classList.contains("choices-send") && !chosen;
        button.disabled = !active || waiting;
      }
    }
  }

  renderDownload(offer) {
    const label = offer.label || TEXT.downloadDefault;
    if (!offer.url) return this.renderDownloadButtons(offer, label);
    const href = ownDataUrl(offer.url, this.base);
    if (!href) return el("p", { class: "download-text" }, `${label}: ${offer.url}`);
    const links = [el("a", { class: "download", href, download: "", rel: "noopener" }, label)];
    const readable = offer.readable_url && ownDataUrl(offer.readable_url, this.base);
    if (readable) {
      const text = offer.readable_label || TEXT.readableDefault;
      const attrs = { class: "download-alt", href: readable, download: "", rel: "noopener" };
      links.push(el("a", attrs, text));
    }
    return el("div", { class: "downloads" }, links);
  }

  renderDownloadButtons(offer, label) {
    const onclick = (event) => this.download(event.currentTarget, "url");
    const buttons = [el("button", { type: "button", class: "download", onclick }, label)];
    if (typeof offer.readable_url === "string") {
      const text = offer.readable_label || TEXT.readableDefault;
      const readable = (event) => this.download(event.currentTarget, "readable_url");
      const attrs = { type: "button", class: "download-alt", onclick: readable };
      buttons.push(el("button", attrs, text));
    }
    return el("div", { class: "downloads" }, buttons);
  }

  /**
   * Ask the web app for a link to the patient's data with this tab's token, and open it
   * (``which``: "url" for the file, "readable_url" for the page). The link is made for this
   * press of the button and kept nowhere.
   */
  async download(button, which) {
    const token = this.state.data.token;
    if (!token) {
      this.addSystem(TEXT.downloadFailed);
      return;
    }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const { ok, body } = await fetchJson(`${this.base}${MY_DATA_LINK_PATH}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
      const url = ok && body && typeof body[which] === "string" ? body[which] : "";
      const href = url && ownDataUrl(url, this.base);
      if (!href) {
        const message = body && typeof body.message === "string" ? body.message : null;
        this.addSystem(message || TEXT.downloadFailed);
        return;
      }
      const link = el("a", { href, download: "", rel: "noopener", hidden: true });
      this.root.appendChild(link);
      link.click();
      link.remove();
    } catch {
      this.addSystem(TEXT.downloadFailed);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  renderPatient(item) {
    return el(
      "div",
      { class: "msg patient", "data-id": item.id },
      el("p", { class: "bubble" }, srOnly("You: "), item.text),
      item.pending ? el("span", { class: "pending" }, TEXT.notSent) : null,
    );
  }

  /** A new message in the conversation: older quick replies no longer apply. */
  addItem(item) {
    this.state.data.transcript.push(item);
    this.state.save();
    this.log.appendChild(this.renderItem(item));
    this.settleReplies();
    this.scrollToEnd();
  }

  /**
   * Rasa sends a response's custom payload as a message of its own, right after the
   * response's words and buttons: a multi-select marker turns those buttons into chips.
   */
  markMultiSelect(multi) {
    const transcript = this.state.data.transcript;
    const item = transcript[transcript.length - 1];
    if (!item || item.kind !== "bot" || !item.quick_replies || item.multi) return;
    item.multi = multi;
    this.state.save();
    const messages = this.log.querySelectorAll(".msg");
    const node = messages[messages.length - 1];
    if (node) node.replaceWith(this.renderItem(item));
    this.settleReplies();
  }

  /**
   * A notice about the connection or access; not part of the stored conversation. The same
   * notice twice in a row (the page loaded, then the panel opened) is said once.
   */
  addSystem(text) {
    const last = this.log.lastElementChild;
    if (last && last.classList.contains("system") && last.textContent === text) return;
    this.log.appendChild(el("p", { class: "system" }, text));
    this.scrollToEnd();
  }

  setStatus(text, clearAfterMs = 0) {
    clearTimeout(this.statusTimer);
    if (this.status.textContent !== text) this.status.textContent = text;
    if (clearAfterMs) this.statusTimer = setTimeout(() => this.setStatus(""), clearAfterMs);
  }

  showTyping(on) {
    clearTimeout(this.typingTimer);
    this.typingDots.hidden = !on;
    this.typingText.textContent = on ? TEXT.typing : "";
    if (on) {
      this.typingTimer = setTimeout(() => {
        this.showTyping(false);
        this.addSystem(TEXT.noReply);
      }, NO_REPLY_MS);
      this.scrollToEnd();
    }
  }

  scrollToEnd() {
    this.body.scrollTop = this.body.scrollHeight;
  }

  autoGrow() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 140)}px`;
  }

  // ------------------------------------------------------------------ opening and closing
  /** Full screen on a phone, the panel is modal: Tab cycles inside it, not behind it. */
  keepFocusInside(event) {
    if (!this.fullScreen.matches) return;
    const focusable = [
      ...this.panel.querySelectorAll("button:not([disabled]), a[href], textarea"),
    ].filter((node) => node.getClientRects().length > 0);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const active = this.host.shadowRoot.activeElement;
    if (event.shiftKey && (active === first || !this.panel.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }

  open({ focus = true } = {}) {
    this.panel.setAttribute("aria-modal", String(this.fullScreen.matches));
    this.panel.hidden = false;
    this.dock.hidden = true;
    this.launcher.setAttribute("aria-expanded", "true");
    this.unread.hidden = true;
    this.state.data.open = true;
    this.state.save();
    this.autoGrow();
    this.scrollToEnd();
    // With the composer disabled, focus goes to the close button, not back to the page.
    if (focus && this.consentScreen) this.consentTitle.focus();
    else if (focus) (this.problem ? this.closeButton : this.input).focus();
    this.ensureConnection();
  }

  close() {
    this.panel.hidden = true;
    this.dock.hidden = false;
    this.launcher.setAttribute("aria-expanded", "false");
    this.state.data.open = false;
    this.state.save();
    this.launcher.focus();
  }

  /** From the closed widget: the panel opens with the crisis numbers shown and focused. */
  openOnCrisis() {
    this.open({ focus: false });
    if (this.crisis.hidden) this.toggleCrisis();
    else this.crisisTitle.focus();
  }

  toggleCrisis() {
    const show = this.crisis.hidden;
    this.crisis.hidden = !show;
    this.helpButton.setAttribute("aria-expanded", String(show));
    if (show) this.crisisTitle.focus();
  }

  // ------------------------------------------------------------------ sending
  submit() {
    const text = this.input.value;
    if (!text.trim() || this.problem || this.needsConsent()) return;
    this.input.value = "";
    this.state.data.draft = "";
    this.autoGrow();
    this.send(text.trim());
  }

  /** Show the patient's words at once; deliver them now or as soon as the connection is back. */
  send(text, payload = text) {
    if (this.problem || this.needsConsent()) return;
    const id = newId();
    this.addItem({ kind: "patient", id, text, pending: true });
    // seq orders messages the server refused back into the queue; it grows across reloads.
    const seq = Math.max(Date.now(), this.lastSeq + 1);
    this.lastSeq = seq;
    this.state.data.outbox.push({ id, message: payload, seq });
    this.state.save();
    // Held back by the rate limit, a newly typed message is still sent at once (only the
    // server knows whether it is a crisis message, which it never refuses); the queue
    // waits for the hold to end.
    if (this.ready) this.flush(this.held() ? id : null);
    else this.ensureConnection();
    // A clicked quick reply is disabled at once; keep keyboard focus somewhere useful.
    this.input.focus();
  }

  held() {
    return Date.now() < this.holdUntil;
  }

  /** Send the outbox (or only the entry ``onlyId``); nothing else while the rate limit holds. */
  flush(onlyId = null) {
    if (!this.ready || !this.socket || !this.socket.connected) return;
    if (this.needsConsent()) return;
    if (onlyId === null && this.held()) return;
    const outbox = this.state.data.outbox;
    let sent = 0;
    for (let index = 0; index < outbox.length; ) {
      const entry = outbox[index];
      if (onlyId !== null && entry.id !== onlyId) {
        index += 1;
        continue;
      }
      outbox.splice(index, 1);
      const { id, message } = entry;
      this.socket.emit("user_uttered", { message, id });
      this.unanswered.push(entry);
      this.sent.push(entry);
      if (this.sent.length > SENT_REMEMBERED) this.sent.shift();
      sent += 1;
      const item = this.state.data.transcript.find((entry) => entry.id === id);
      if (item) delete item.pending;
      const marker = this.log.querySelector(`[data-id="${id}"] .pending`);
      if (marker) marker.remove();
    }
    this.state.save();
    if (sent) this.showTyping(true);
  }

  /**
   * The server refused a message for the rate limit: say so once, put the message back in
   * the outbox in the order it was written, and send the outbox again after retry_after.
   */
  rateLimited(data) {
    if (!data || typeof data !== "object") return;
    const seconds = Math.min(
      RATE_RETRY_MAX_S,
      Math.max(RATE_RETRY_MIN_S, Math.ceil(Number(data.retry_after)) || 5),
    );
    let index = typeof data.id === "string" ? this.sent.findIndex((e) => e.id === data.id) : -1;
    if (index < 0 && typeof data.id !== "string") index = this.sent.length - 1;
    if (index >= 0) {
      const [entry] = this.sent.splice(index, 1);
      this.unanswered = this.unanswered.filter((e) => e !== entry);
      const outbox = this.state.data.outbox;
      const at = outbox.findIndex((e) => !e.seq || e.seq > entry.seq);
      outbox.splice(at < 0 ? outbox.length : at, 0, entry);
      this.markPending(entry.id);
      this.state.save();
    }
    if (!this.unanswered.length) this.showTyping(false);
    const now = Date.now();
    if (now - this.rateNotedAt >= RATE_NOTE_INTERVAL_MS && typeof data.message === "string") {
      this.addSystem(`${data.message} ${TEXT.resending}`);
      this.rateNotedAt = now;
    }
    this.holdUntil = Math.max(this.holdUntil, Date.now() + seconds * 1000);
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdUntil = 0;
      this.flush();
    }, this.holdUntil - Date.now());
  }

  markPending(id) {
    const item = this.state.data.transcript.find((entry) => entry.id === id);
    if (item) item.pending = true;
    const node = this.log.querySelector(`[data-id="${id}"]`);
    if (node && !node.querySelector(".pending")) {
      node.appendChild(el("span", { class: "pending" }, TEXT.notSent));
    }
  }

  // ------------------------------------------------------------------ the connection
  async ensureConnection() {
    if (this.socket || this.starting || this.problem) return;
    this.starting = true;
    try {
      if (!this.config) {
        try {
          this.config = await loadConfig(this.base, this.slug);
        } catch (error) {
          const problem = setupProblem(error);
          if (problem) this.block(problem);
          else this.addSystem(TEXT.configFailed);
          return;
        }
        this.applyConfig(this.config);
      }
      if (!this.config.socket_url) {
        this.addSystem(TEXT.configFailed);
        return;
      }
      if (this.checkLinkNeeded()) return;
      let token = this.state.data.token;
      if (!token) {
        this.setStatus(TEXT.connecting);
        token = await anonymousToken(this.config);
        this.state.setToken(token);
      }
      this.connect(token);
    } catch (error) {
      this.setStatus("");
      const problem = setupProblem(error);
      if (problem) this.block(problem);
      else this.addSystem(error instanceof IdentityError ? error.message : TEXT.unreachable);
    } finally {
      this.starting = false;
    }
  }

  connect(token) {
    const target = new URL(this.config.socket_url);
    const prefix = target.pathname.replace(/\/+$/, "");
    let path = this.config.socket_path;
    if (prefix && !path.startsWith(`${prefix}/`)) path = prefix + path;
    this.setStatus(TEXT.connecting);
    const socket = io(target.origin, {
      path,
      auth: { token },
      reconnectionDelayMax: 10000,
      timeout: 15000,
    });
    this.socket = socket;

    // Events of a socket that was replaced (another patient link) are ignored.
    const current = () => this.socket === socket;
    socket.on("connect", () => {
      if (current()) socket.emit("session_request", {});
    });
    socket.on("session_confirm", () => {
      if (!current()) return;
      this.ready = true;
      this.serverDisconnects = 0;
      if (this.everReady) this.setStatus(TEXT.back, 4000);
      else this.setStatus("");
      this.everReady = true;
      if (this.agreeing !== null) this.sendAgreement();
      this.flush();
    });
    socket.on("consent_status", (data) => {
      if (current()) this.consentStatus(data);
    });
    socket.on("consent_required", (data) => {
      if (current()) this.consentRequired(data);
    });
    socket.on("bot_uttered", (data) => {
      if (current()) this.receive(data);
    });
    socket.on("rate_limited", (data) => {
      if (current()) this.rateLimited(data);
    });
    // The token stopped working mid-conversation (revoked, expired); the server disconnects.
    socket.on("access_denied", (data) => {
      if (!current()) return;
      this.requeueUnanswered(data && typeof data.id === "string" ? data.id : null);
      if (data && typeof data === "object" && typeof data.message === "string") {
        this.refused(socket, data);
      }
    });
    socket.on("disconnect", (reason) => {
      if (!current()) return;
      this.ready = false;
      this.showTyping(false);
      if (reason === "io client disconnect") return;
      this.setStatus(TEXT.lost);
      if (reason === "io server disconnect") {
        // The server closed this session; socket.io will not retry on its own. Reconnecting
        // lets the server either accept the token again or refuse it with a reason.
        this.serverDisconnects += 1;
        const delay = Math.min(30000, 1000 * 2 ** this.serverDisconnects);
        setTimeout(() => {
          if (current()) socket.connect();
        }, delay);
      }
    });
    socket.on("connect_error", (error) => {
      if (!current()) return;
      this.ready = false;
      const data = error && error.data;
      if (data && typeof data === "object" && typeof data.message === "string") {
        this.refused(socket, data);
      } else {
        this.setStatus(this.everReady ? TEXT.lost : TEXT.unreachable);
      }
    });
  }

  /** The server refused this token: say why in its words; a dead token is forgotten. */
  refused(socket, data) {
    this.ready = false;
    socket.disconnect();
    if (this.socket === socket) this.socket = null;
    if (DEAD_TOKEN.has(data.reason)) this.state.dropToken();
    this.setStatus("");
    this.showTyping(false);
    this.addSystem(data.message);
    // Without a token, at a clinic that needs a personal link, nothing more can be sent;
    // the refusal just said why.
    if (!this.state.data.token && this.config && this.config.link_required) {
      this.block(this.config.link_required, { quiet: true });
    }
    if (!DEAD_TOKEN.has(data.reason) && this.state.data.outbox.length) {
      // E.g. the server could not check the token just now: try again later by itself.
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.ensureConnection(), RETRY_UNAVAILABLE_MS);
    }
  }

  /** Messages the server refused to take go back to the front of the outbox. */
  /**
   * Put the messages still waiting for a reply back in the outbox, marked not sent, and the
   * refused message ``refusedId`` with them even when a late reply to an earlier message has
   * since counted it as answered.
   */
  requeueUnanswered(refusedId = null) {
    const refused = refusedId === null ? null : this.sent.find((e) => e.id === refusedId);
    if (refused && !this.unanswered.includes(refused)) this.unanswered.push(refused);
    if (!this.unanswered.length) return;
    this.state.data.outbox.unshift(...this.unanswered);
    for (const { id } of this.unanswered) this.markPending(id);
    this.unanswered = [];
    this.state.save();
  }

  receive(data) {
    if (!data || typeof data !== "object") return;
    const text = typeof data.text === "string" ? data.text : "";
    const replies = quickReplies(data.quick_replies);
    const link = attachmentLink(data.attachment);
    const download = downloadOffer(data.download);
    const multi = multiSelect(data.multi_select);
    if (data.consent && typeof data.consent === "object" && data.consent.withdrawn === true) {
      this.consentWithdrawn();
    }
    if (multi && !text && !replies.length && !link && !download) {
      this.markMultiSelect(multi);
      return;
    }
    if (!text && !replies.length && !link && !download) return;
    this.unanswered = [];
    this.showTyping(false);
    const item = { kind: "bot", text };
    if (replies.length) item.quick_replies = replies;
    if (replies.length && multi) item.multi = multi;
    if (link) item.link = link;
    if (download) item.download = download;
    this.addItem(item);
    if (this.panel.hidden) this.unread.hidden = false;
  }
}

function boot() {
  const script = findScript();
  if (!script) return;
  const slug = (script.getAttribute("data-clinic") || "").trim();
  if (!slug) return;
  const started = window[STARTED] || (window[STARTED] = new Set());
  if (started.has(slug)) return;
  started.add(slug);

  const src = new URL(script.src, document.baseURI);
  const base = new URL(".", src).href.replace(/\/+$/, "");
  // Read the link's token before anything else, so it leaves the address bar at once.
  const fragmentToken = takeFragmentToken();
  const explicitToken = (script.getAttribute("data-token") || "").trim() || fragmentToken;
  const widget = new Widget({ slug, base, explicitToken, openOnStart: Boolean(fragmentToken) });
  // The link's token is read at page load only. A fragment changed later (another patient's
  // link on a shared computer, or another window steering this one) is offered, not adopted.
  window.addEventListener("hashchange", () => {
    const token = takeFragmentToken();
    if (token) widget.offerLink(token);
  });
  const go = () => widget.start();
  if (document.body) go();
  else document.addEventListener("DOMContentLoaded", go, { once: true });
}

boot();
