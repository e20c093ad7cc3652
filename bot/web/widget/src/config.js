// The clinic's configuration (name, colour, greeting, crisis numbers, where to connect), fetched
// from the web app. Crisis numbers must be shown even when that fetch fails, so the widget
// starts from built-in defaults and only replaces them with validated values.

export const DEFAULT_CRISIS_LINES = [
  { name: "Suicide & Crisis Lifeline (call or text)", number: "988" },
  { name: "Emergency services", number: "911" },
];

export const DEFAULT_CONFIG = {
  clinic: "",
  name: "Chat",
  accent_color: "#2f6f73",
  greeting: "Hello. How can I help you today?",
  allow_anonymous: false,
  crisis_lines: DEFAULT_CRISIS_LINES,
  socket_url: null,
  socket_path: "/socket.io",
  anonymous_session_url: null,
  link_required: null,
  consent: null,
};

// What a visitor without a personal link is told when the clinic's configuration does not say
// it itself (the web app sends its own words, bot/patient_tokens.py MESSAGES).
export const LINK_REQUIRED = {
  reason: "anonymous_not_allowed",
  message:
    "This chat needs the personal link from your clinic. Please open the link they gave you.",
  hint: null,
};

/**
 * A refusal in the web app's words, {reason, message, hint}, from an answer's body
 * ({error, message, hint}), or null if the body is not one. The message is for the patient;
 * the hint, for the web developer's console.
 */
export function refusal(body) {
  if (!body || typeof body !== "object") return null;
  if (typeof body.error !== "string" || typeof body.message !== "string") return null;
  if (!body.message.trim()) return null;
  const hint = typeof body.hint === "string" && body.hint.trim() ? body.hint.trim() : null;
  return { reason: body.error, message: body.message.trim(), hint };
}

/** A configuration the web app refused to give; ``refusal`` says why, when it said. */
export class ConfigError extends Error {
  constructor(found) {
    super(found ? found.message : "configuration unavailable");
    this.refusal = found;
  }
}

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

function httpUrl(value) {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function text(value, fallback) {
  return typeof value === "string" && value.trim() ? value.trim() : fallback;
}

function crisisLines(value) {
  if (!Array.isArray(value)) return DEFAULT_CRISIS_LINES;
  const lines = value
    .filter((line) => line && typeof line.number === "string" && /\d/.test(line.number))
    .map((line) => ({ name: text(line.name, ""), number: line.number.trim() }));
  return lines.length ? lines : DEFAULT_CRISIS_LINES;
}

/**
 * The clinic's consent text ({version, title, paragraphs, agree, not_yet, changed, withdrawn}),
 * or null when the configuration has none (the server then still keeps nothing without it).
 */
function consentText(value) {
  if (!value || typeof value !== "object" || !Number.isInteger(value.version)) return null;
  const paragraphs = Array.isArray(value.paragraphs)
    ? value.paragraphs.filter((p) => typeof p === "string" && p.trim()).map((p) => p.trim())
    : [];
  if (!paragraphs.length) return null;
  return {
    version: value.version,
    title: text(value.title, "Before we start"),
    paragraphs,
    agree: text(value.agree, "I agree"),
    not_yet: text(value.not_yet, ""),
    changed: text(value.changed, ""),
    withdrawn: text(value.withdrawn, ""),
  };
}

/** Keep only well-formed values; anything odd falls back to the safe default. */
export function normalizeConfig(raw, slug) {
  const data = raw && typeof raw === "object" ? raw : {};
  return {
    clinic: text(data.clinic, slug),
    name: text(data.name, DEFAULT_CONFIG.name),
    accent_color: HEX_COLOR.test(data.accent_color)
      ? data.accent_color
      : DEFAULT_CONFIG.accent_color,
    greeting: text(data.greeting, DEFAULT_CONFIG.greeting),
    allow_anonymous: data.allow_anonymous === true,
    crisis_lines: crisisLines(data.crisis_lines),
    socket_url: httpUrl(data.socket_url),
    socket_path: text(data.socket_path, DEFAULT_CONFIG.socket_path),
    anonymous_session_url: httpUrl(data.anonymous_session_url),
    // Whether a visitor without a personal link can chat at all, and if not, why.
    link_required:
      refusal(data.link_required) || (data.allow_anonymous === true ? null : LINK_REQUIRED),
    consent: consentText(data.consent),
  };
}

/** Fetch JSON with a time limit; never sends cookies (the widget has no use for them). */
export async function fetchJson(url, { method = "GET", timeoutMs = 10000, headers = {} } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      method,
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      signal: controller.signal,
      headers: { ...headers, Accept: "application/json" },
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { ok: response.ok, status: response.status, body };
  } finally {
    clearTimeout(timer);
  }
}

export async function loadConfig(base, slug) {
  const url = `${base}/api/clinics/${encodeURIComponent(slug)}/widget-config`;
  const { ok, body } = await fetchJson(url);
  if (!ok) throw new ConfigError(refusal(body));
  return normalizeConfig(body, slug);
}

/** Black or white, whichever reads better on the clinic's accent colour (WCAG luminance). */
export function textOn(hex) {
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) ? "#ffffff" : "#111111";
}

/** tel: links only ever contain dialable characters, whatever the configuration says. */
export function telHref(number) {
  return `tel:${number.replace(/[^0-9+*#]/g, "")}`;
}
