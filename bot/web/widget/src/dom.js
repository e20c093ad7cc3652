// Building DOM nodes without ever parsing HTML: every string becomes a text node, so bot and
// patient text can never turn into markup or script, whatever it contains.

/**
 * Create an element. `attrs` keys are attribute names (set with setAttribute, so values are
 * never interpreted as markup); `on*` function values become event listeners; children are
 * nodes or strings (strings become text nodes).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

/** Append nodes and strings (as text nodes) to a parent. */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return parent;
}

/** Text that screen readers read but sighted users do not see (e.g. "You said:"). */
export function srOnly(text) {
  return el("span", { class: "sr-only" }, text);
}
