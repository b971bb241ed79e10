/**
 * The default rendering of in-app messages (an app replaces it with Herald.onInAppMessage). Plain
 * DOM with class names (`.herald-in-app`, `.herald-in-app-modal`…) and a small style sheet the
 * page's own class rules override. Accessible by construction (WAI-ARIA Authoring Practices,
 * "Dialog (Modal)" pattern, https://www.w3.org/WAI/ARIA/apg/patterns/dialog-modal/): modal,
 * fullscreen, image and html messages are a role=dialog with aria-modal, named by their title,
 * described by their body, focus moved into them and kept there (Tab cycles), Escape closes, and
 * focus returns to where it was; a banner is a labelled region that takes no focus (Escape closes
 * it while focus is in it). Every action is a real <button>. Text is set with textContent only,
 * and an html message's document is an iframe sandboxed without scripts or same origin, so it can
 * never reach the page.
 */
import { inAppStyles } from './in-app-style.js';
import type { InAppButton, InAppMessage } from './types.js';

export interface RenderHandlers {
  /** A button of the message was pressed (the message is already closed). */
  button(b: InAppButton): void;
  /** Closed without a button: the close button or Escape. */
  close(): void;
}

const focusable = 'button,iframe,a[href],input,select,textarea,[tabindex]:not([tabindex="-1"])';
let styled = false;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * The style sheet, once: a constructed sheet where the browser has them (a page's
 * Content-Security-Policy style-src does not apply to it), else a <style> element.
 */
function style(): void {
  if (styled) return;
  styled = true;
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(inAppStyles);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  } catch {
    document.head.append(el('style', '', inAppStyles));
  }
}

/** The html format's document: no network but images, styles and fonts, links open outside. */
function srcdoc(html: string): string {
  return '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src https: data:; style-src \'unsafe-inline\' https:; font-src https: data:">'
    + '<base target="_blank">' + html;
}

export function renderMessage(m: InAppMessage, on: RenderHandlers): void {
  style();
  const c = m.content;
  const modal = m.format !== 'banner';
  const returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const uid = `herald-in-app-${Math.random().toString(36).slice(2)}`;

  const layer = el('div', `herald-in-app-layer herald-in-app-layer-${m.format}${c.position === 'bottom' ? ' herald-in-app-bottom' : ''}`);
  const box = el('div', `herald-in-app herald-in-app-${m.format}`);
  if (modal) {
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    // Focus goes to the dialog itself, so a screen reader reads its name and text first and no
    // action is one Enter away (the pattern's note on focusing a static element).
    box.tabIndex = -1;
  } else {
    box.setAttribute('role', 'region');
  }

  const close = el('button', 'herald-in-app-close', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Close');
  box.append(close);

  const text = c.title ?? c.body;
  if (c.image_url && /^https:\/\//i.test(c.image_url)) {
    const img = el('img', 'herald-in-app-picture');
    img.src = c.image_url;
    // Decorative beside a title or body (they say it); the image message's only content otherwise.
    img.alt = m.format === 'image' && !text ? 'Image' : '';
    box.append(img);
  }
  if (c.title) {
    const h = el('h2', 'herald-in-app-title', c.title);
    h.id = `${uid}-title`;
    box.setAttribute('aria-labelledby', h.id);
    box.append(h);
  } else {
    box.setAttribute('aria-label', c.body && !modal ? c.body.slice(0, 80) : 'Message');
  }
  if (c.body) {
    const p = el('p', 'herald-in-app-body', c.body);
    p.id = `${uid}-body`;
    box.setAttribute('aria-describedby', p.id);
    box.append(p);
  }
  if (m.format === 'html' && c.html) {
    const frame = el('iframe', 'herald-in-app-frame');
    // No allow-scripts, no allow-same-origin: the document runs nothing and reaches nothing of the page.
    frame.setAttribute('sandbox', 'allow-popups allow-popups-to-escape-sandbox');
    frame.title = c.title ?? 'Message';
    frame.srcdoc = srcdoc(c.html);
    box.append(frame);
  }
  const actions = el('div', 'herald-in-app-buttons');
  for (const b of c.buttons ?? []) {
    const button = el('button', `herald-in-app-button herald-in-app-button-${b.action}`, b.label);
    button.type = 'button';
    button.addEventListener('click', () => finish(() => on.button(b)));
    actions.append(button);
  }
  if (actions.childElementCount) box.append(actions);
  close.addEventListener('click', () => finish(on.close));

  const onKey = (e: KeyboardEvent) => {
    const inside = box.contains(document.activeElement);
    if (e.key === 'Escape' && (modal || inside)) {
      e.preventDefault();
      e.stopPropagation();
      finish(on.close);
    } else if (e.key === 'Tab' && modal) {
      const all = [...box.querySelectorAll<HTMLElement>(focusable)];
      const first = all[0];
      const lastOne = all[all.length - 1];
      const at = document.activeElement;
      if (!first || !lastOne) return;
      if (e.shiftKey && (at === first || at === box || !inside)) {
        e.preventDefault();
        lastOne.focus();
      } else if (!e.shiftKey && (at === lastOne || !inside)) {
        e.preventDefault();
        first.focus();
      }
    }
  };
  // Focus that leaves a modal message (a click on the page behind, a script) is brought back.
  const onFocus = (e: FocusEvent) => {
    if (e.target instanceof Node && !box.contains(e.target)) box.focus();
  };
  document.addEventListener('keydown', onKey, true);
  if (modal) document.addEventListener('focusin', onFocus, true);

  let closed = false;
  function finish(then: () => void): void {
    if (closed) return;
    closed = true;
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('focusin', onFocus, true);
    layer.remove();
    if (modal && returnTo?.isConnected) returnTo.focus();
    then();
  }

  layer.append(box);
  document.body.append(layer);
  if (modal) box.focus();
}
