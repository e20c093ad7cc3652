// The widget's own stylesheet, applied inside its shadow root: the clinic's CSS cannot reach
// in, and nothing here can leak out into the clinic's page.

export const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.root {
  --companion-accent: #2f6f73;
  --companion-on-accent: #ffffff;
  --companion-text: #1b1f23;
  --companion-muted: #4a5560;
  --companion-focus: #0b57d0;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--companion-text);
  -webkit-text-size-adjust: 100%;
}
button, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 3px solid var(--companion-focus); outline-offset: 2px; }
.sr-only {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.dock {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  display: flex; flex-direction: column; align-items: flex-end; gap: 8px;
}
.dock-help {
  min-height: 40px; padding: 6px 14px; border-radius: 20px; cursor: pointer;
  border: 2px solid #9b0014; background: #ffffff; color: #9b0014; font-weight: 700;
  box-shadow: 0 2px 8px rgba(0, 0, 0, 0.2);
}
.launcher {
  display: inline-flex; align-items: center; gap: 8px;
  min-height: 52px; padding: 12px 20px; border: 0; border-radius: 26px; cursor: pointer;
  background: var(--companion-accent); color: var(--companion-on-accent);
  font-weight: 600; box-shadow: 0 4px 16px rgba(0, 0, 0, 0.25);
}
.launcher svg { width: 22px; height: 22px; fill: currentColor; }
.launcher .unread {
  width: 10px; height: 10px; border-radius: 50%; background: #ffffff;
  border: 2px solid var(--companion-on-accent);
}
.panel {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483001;
  width: 380px; height: min(660px, calc(100vh - 40px)); max-width: calc(100vw - 40px);
  display: flex; flex-direction: column; overflow: hidden;
  background: #ffffff; border-radius: 14px; box-shadow: 0 8px 32px rgba(0, 0, 0, 0.3);
}
.header {
  --companion-focus: var(--companion-on-accent);
  display: flex; align-items: center; gap: 8px; flex-wrap: wrap;
  padding: 10px 10px 10px 16px;
  background: var(--companion-accent); color: var(--companion-on-accent);
}
.titles { flex: 1 1 140px; min-width: 0; }
.title { margin: 0; font-size: 1.05rem; font-weight: 700; line-height: 1.3; }
.subtitle { margin: 0; font-size: 0.8rem; }
.safety-page { margin: 0; font-size: 0.8rem; }
.safety-page a { color: inherit; }
.help {
  min-height: 40px; padding: 6px 12px; border-radius: 20px; cursor: pointer;
  border: 2px solid #ffffff; background: #ffffff; color: #9b0014; font-weight: 700;
}
.help[aria-expanded="true"] { background: #9b0014; color: #ffffff; }
.close {
  width: 40px; height: 40px; border: 0; border-radius: 50%; cursor: pointer;
  background: transparent; color: var(--companion-on-accent); font-size: 1.6rem; line-height: 1;
}
.close:hover { background: rgba(127, 127, 127, 0.25); }
.crisis {
  flex: 0 0 auto; padding: 12px 16px; background: #fff3f3; border-bottom: 3px solid #9b0014;
  max-height: 60%; overflow-y: auto;
}
.crisis h3 { margin: 0 0 4px; font-size: 1rem; color: #7a0010; }
.crisis h3:focus { outline: none; }
.crisis p { margin: 4px 0; font-size: 0.9rem; }
.crisis ul { list-style: none; margin: 8px 0; padding: 0; }
.crisis li { margin: 6px 0; }
.crisis a {
  display: inline-block; min-width: 64px; margin-right: 8px; padding: 6px 12px;
  border-radius: 8px; background: #9b0014; color: #ffffff; font-weight: 700;
  font-size: 1.1rem; text-align: center; text-decoration: none;
}
.crisis .line-name { font-size: 0.9rem; }
.body {
  flex: 1 1 auto; min-height: 0; overflow-y: auto; padding: 12px 12px 4px;
  overscroll-behavior: contain;
}
.notice {
  margin: 0 0 12px; padding: 8px 10px; border-radius: 8px;
  background: #f4f6f8; color: var(--companion-muted); font-size: 0.85rem;
}
.consent {
  margin: 0 0 12px; padding: 12px; border-radius: 10px;
  border: 2px solid var(--companion-accent); background: #ffffff;
}
.consent h3 { margin: 0 0 6px; font-size: 1.05rem; }
.consent h3:focus { outline: none; }
.consent p { margin: 6px 0; font-size: 0.9rem; }
.consent .consent-note { padding: 6px 10px; border-radius: 8px; background: #fff8e1; color: #4d3800; }
.consent .consent-help { padding: 8px 10px; border-radius: 8px; background: #fff3f3; }
.consent .consent-help ul { list-style: none; margin: 4px 0 0; padding: 0; }
.consent .consent-help li { margin: 4px 0; }
.consent .consent-help a {
  display: inline-flex; align-items: center; justify-content: center; min-height: 44px;
  min-width: 64px; margin-right: 8px; padding: 6px 12px; border-radius: 8px;
  background: #9b0014; color: #ffffff; font-weight: 700; text-decoration: none;
}
.consent .consent-actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
.consent button {
  min-height: 44px; min-width: 44px; padding: 8px 18px; border-radius: 22px; cursor: pointer;
  font: inherit; font-weight: 700;
}
.consent .agree { border: 0; background: var(--companion-accent); color: var(--companion-on-accent); }
.consent .erase { border: 2px solid #9b0014; background: #ffffff; color: #7a0010; }
.consent button:disabled { cursor: progress; opacity: 0.7; }
.consent .hint { color: var(--companion-muted); font-size: 0.85rem; }
.log { display: flex; flex-direction: column; gap: 8px; }
.msg { display: flex; flex-direction: column; align-items: flex-start; }
.msg.patient { align-items: flex-end; }
.bubble {
  max-width: 85%; margin: 0; padding: 8px 12px; border-radius: 14px; white-space: pre-line;
  overflow-wrap: anywhere;
}
.bot .bubble { background: #eef1f3; border-bottom-left-radius: 4px; }
.patient .bubble {
  background: var(--companion-accent); color: var(--companion-on-accent);
  border-bottom-right-radius: 4px;
}
.pending { font-size: 0.75rem; color: var(--companion-muted); margin-top: 2px; }
.system {
  align-self: stretch; margin: 0; padding: 6px 10px; border-radius: 8px;
  background: #fff8e1; color: #4d3800; font-size: 0.875rem;
}
.link { color: #0b4f9c; }
.download-text { margin: 4px 0 0; font-size: 0.875rem; overflow-wrap: anywhere; }
/* Touch targets: every button and link a patient taps is at least 44 by 44 CSS pixels. */
.downloads { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-top: 6px; }
.download, .download-alt {
  display: inline-flex; align-items: center; justify-content: center;
  min-height: 44px; min-width: 44px; padding: 8px 16px; border-radius: 22px;
  font-weight: 600; text-decoration: none;
}
.download { background: var(--companion-accent); color: var(--companion-on-accent); }
.download-alt { color: #0b4f9c; text-decoration: underline; padding: 8px 4px; }
button.download, button.download-alt { border: 0; cursor: pointer; font: inherit; }
button.download-alt { background: transparent; }
button.download:disabled, button.download-alt:disabled { cursor: progress; opacity: 0.7; }
.link-offer p { margin: 0 0 6px; }
.link-offer button {
  min-height: 44px; padding: 8px 14px; border-radius: 22px; cursor: pointer; font-weight: 600;
  border: 2px solid var(--companion-accent); background: #ffffff; color: var(--companion-text);
}
.quick-replies { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.quick-replies button {
  min-height: 44px; min-width: 44px; padding: 8px 14px; border-radius: 22px; cursor: pointer;
  border: 2px solid var(--companion-accent); background: #ffffff; color: var(--companion-text);
}
.quick-replies button:hover:not(:disabled) { background: #eef1f3; }
.quick-replies button:disabled {
  cursor: default; border-color: #c3c8cd; border-style: dashed; background: #f4f6f8;
  color: #5f6a74;
}
.chip[aria-pressed="true"] {
  background: var(--companion-accent); color: var(--companion-on-accent);
}
.chip[aria-pressed="true"]::before { content: "\\2713\\00a0" / ""; }
.quick-replies .chip[aria-pressed="true"]:hover:not(:disabled) {
  background: var(--companion-accent);
}
.quick-replies .chip[aria-pressed="true"]:disabled {
  background: #dfe3e6; color: var(--companion-text);
}
.quick-replies .choices-send:not(:disabled) {
  background: var(--companion-accent); color: var(--companion-on-accent); font-weight: 600;
}
.typing { padding: 4px 12px; }
.typing-dots { display: inline-flex; gap: 4px; }
.typing .dot {
  display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  background: var(--companion-muted);
  animation: companion-blink 1.2s infinite ease-in-out;
}
.typing .dot:nth-child(2) { animation-delay: 0.2s; }
.typing .dot:nth-child(3) { animation-delay: 0.4s; }
@keyframes companion-blink { 0%, 80%, 100% { opacity: 0.25; } 40% { opacity: 1; } }
.status {
  margin: 0; padding: 6px 16px; background: #fff8e1; color: #4d3800; font-size: 0.85rem;
}
/* Kept in the layout while empty: screen readers ignore live regions that were not rendered. */
.status:empty { padding: 0; }
.composer {
  display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px;
  border-top: 1px solid #d5dade;
}
.composer textarea {
  flex: 1; min-height: 44px; max-height: 140px; resize: none; padding: 10px 12px;
  border: 1px solid #6b7680; border-radius: 10px; background: #ffffff; font-size: 16px;
}
.composer textarea::placeholder { color: #5f6a74; opacity: 1; }
.send {
  min-height: 44px; padding: 0 16px; border: 0; border-radius: 10px; cursor: pointer;
  background: var(--companion-accent); color: var(--companion-on-accent); font-weight: 600;
}
/* A page that cannot chat (a set-up problem): the composer is visibly out of use. */
.composer textarea:disabled { background: #eef1f3; cursor: not-allowed; }
.send:disabled { cursor: not-allowed; opacity: 0.5; }
@media (max-width: 600px) {
  .dock { right: 12px; bottom: 12px; }
  .panel {
    inset: 0; width: 100%; max-width: none; height: 100%; border-radius: 0; box-shadow: none;
  }
  @supports (height: 100dvh) { .panel { height: 100dvh; } }
  .bubble { max-width: 92%; }
}
@media (prefers-reduced-motion: reduce) {
  .typing .dot { animation: none; opacity: 0.6; }
}
`;
