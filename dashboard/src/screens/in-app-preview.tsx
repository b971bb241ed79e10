/**
 * How an in-app message looks on a device (docs/in-app.md, "Formats and content"), drawn from the
 * editor's form as it is typed: a modal over the dimmed app, a banner at its top or bottom, a full
 * screen, an image, or an html document in a sandboxed iframe (srcdoc, no script runs:
 * https://developer.mozilla.org/en-US/docs/Web/HTML/Element/iframe#sandbox). Liquid is
 * shown as written, since each profile sees its own rendering. The styles are set through the
 * DOM (the dashboard's Content-Security-Policy allows no inline style sheet) and kept here, so the
 * preview does not change the dashboard's shared CSS.
 */
import type { CSSProperties } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface PreviewButton { id: string; label: string; action: 'dismiss' | 'url'; url?: string }
export interface PreviewContent { title?: string; body?: string; image_url?: string; html?: string; position?: 'top' | 'bottom'; buttons?: PreviewButton[] }

type Css = CSSProperties;
const screen: Css = {
  position: 'relative', width: '100%', maxWidth: '20rem', aspectRatio: '9 / 16', border: '8px solid #1b1f24', borderRadius: '18px',
  overflow: 'hidden', background: 'linear-gradient(#f6f8fa, #e6ebf1)', margin: '0 auto',
};
const card: Css = { background: '#fff', color: '#1b1f24', borderRadius: '10px', padding: '.8rem', boxShadow: '0 4px 18px rgba(0,0,0,.25)', overflowWrap: 'anywhere' };
const look: Css = { display: 'inline-block', padding: '.3rem .7rem', borderRadius: '6px', background: '#0b5cad', color: '#fff', fontSize: '.9em' };
const quiet: Css = { ...look, background: '#fff', color: '#0b5cad', border: '1px solid #0b5cad' };

function Texts({ c }: { c: PreviewContent }) {
  return (<>
    {c.title && <p style={{ fontWeight: 600, margin: '.2rem 0', fontSize: '1.05em' }}>{c.title}</p>}
    {c.body && <p style={{ margin: '.2rem 0', whiteSpace: 'pre-wrap' }}>{c.body}</p>}
    {c.buttons && c.buttons.length > 0 && (
      <p style={{ display: 'flex', gap: '.4rem', flexWrap: 'wrap', margin: '.5rem 0 0' }}>
        {/* Drawn, not real buttons: they do nothing here, so they are not tab stops. */}
        {c.buttons.map((b, i) => <span key={i} style={b.action === 'dismiss' ? quiet : look}>{b.label || '(no label)'}</span>)}
      </p>
    )}
  </>);
}

/** An https image; anything else is a placeholder naming what is wrong, as the API will refuse it. */
function Picture({ url, tall }: { url: string | undefined; tall?: boolean }) {
  if (!url) return null;
  const box: Css = { width: '100%', height: tall ? '100%' : '7rem', objectFit: 'cover', borderRadius: '6px', display: 'block', background: '#d0d7de' };
  if (!/^https:\/\//i.test(url)) return <p style={{ ...box, display: 'grid', placeItems: 'center', margin: 0, color: '#57606a' }}>The image URL must be https</p>;
  return <Loaded key={url} url={url} box={box} />;
}

/** The image, or a placeholder saying it did not load (the URL answers no image, or the network is out of reach). */
function Loaded({ url, box }: { url: string; box: Css }) {
  const [failed, setFailed] = useState(false);
  if (failed) return <p style={{ ...box, display: 'grid', placeItems: 'center', margin: 0, color: '#57606a', fontSize: '.85em', padding: '.3rem' }}>The image did not load here</p>;
  return <img src={url} alt="" style={box} onError={() => setFailed(true)} />;
}

/**
 * The html document in a sandboxed frame. A srcdoc document inherits the dashboard's
 * Content-Security-Policy (https://html.spec.whatwg.org/multipage/browsers.html#policy-containers),
 * which applies no inline style, so the frame's <style> elements and style attributes are applied
 * again through the CSSOM, which the policy does not govern: constructed style sheets
 * (https://developer.mozilla.org/en-US/docs/Web/API/CSSStyleSheet/CSSStyleSheet) and style.cssText.
 * That needs the frame's document to be reachable (allow-same-origin); without allow-scripts no
 * script of the document runs, and without allow-forms or allow-top-navigation it submits nothing
 * and cannot navigate the dashboard.
 */
function HtmlFrame({ html }: { html: string }) {
  const frame = useRef<HTMLIFrameElement>(null);
  useEffect(() => {
    const f = frame.current;
    if (!f) return undefined;
    const restyle = () => {
      const doc = f.contentDocument;
      const realm = doc?.defaultView as (Window & typeof globalThis) | null | undefined;
      if (!doc || !realm) return;
      doc.adoptedStyleSheets = [...doc.querySelectorAll('style')].map((el) => {
        const sheet = new realm.CSSStyleSheet();
        sheet.replaceSync(el.textContent ?? '');
        return sheet;
      });
      for (const el of doc.querySelectorAll<HTMLElement>('[style]')) el.style.cssText = el.getAttribute('style') ?? '';
    };
    f.addEventListener('load', restyle);
    return () => f.removeEventListener('load', restyle);
  }, []);
  return <iframe ref={frame} title="The HTML message" sandbox="allow-same-origin" srcdoc={html} style={{ width: '100%', height: '100%', border: 0, background: '#fff' }} />;
}

function Message({ format, c }: { format: string; c: PreviewContent }) {
  if (format === 'html') return <HtmlFrame html={c.html ?? ''} />;
  if (format === 'banner') {
    const at: Css = c.position === 'bottom' ? { bottom: '.5rem' } : { top: '.5rem' };
    return (
      <div data-position={c.position === 'bottom' ? 'bottom' : 'top'} style={{ ...card, position: 'absolute', left: '.5rem', right: '.5rem', ...at, display: 'flex', gap: '.6rem' }}>
        {c.image_url && <div style={{ width: '3.5rem', flex: 'none' }}><Picture url={c.image_url} /></div>}
        <div style={{ minWidth: 0 }}><Texts c={c} /></div>
      </div>
    );
  }
  if (format === 'fullscreen') {
    return (
      <div style={{ ...card, position: 'absolute', inset: 0, borderRadius: 0, display: 'flex', flexDirection: 'column', gap: '.5rem', overflowY: 'auto' }}>
        <Picture url={c.image_url} />
        <Texts c={c} />
      </div>
    );
  }
  const dim: Css = { position: 'absolute', inset: 0, background: 'rgba(27,31,36,.55)', display: 'grid', placeItems: 'center', padding: '1rem' };
  if (format === 'image') {
    return (
      <div style={dim}>
        <div style={{ ...card, padding: '.4rem', width: '100%' }}>
          {c.image_url ? <Picture url={c.image_url} tall /> : <p style={{ margin: 0, color: '#57606a' }}>An image message needs an image URL</p>}
          {(c.title || c.body || c.buttons?.length) ? <div style={{ padding: '.3rem' }}><Texts c={c} /></div> : null}
        </div>
      </div>
    );
  }
  return (
    <div style={dim}>
      <div style={{ ...card, width: '100%' }}><Picture url={c.image_url} /><Texts c={c} /></div>
    </div>
  );
}

/** The device's screen with the message on it, captioned with what it is. */
export function InAppPreview({ format, content }: { format: string; content: PreviewContent }) {
  return (
    <figure aria-label="Preview" data-format={format} style={{ margin: 0 }}>
      <div style={screen}><Message format={format} c={content} /></div>
      <figcaption class="hint" style={{ textAlign: 'center' }}>
        {format === 'banner' ? `A banner at the ${content.position === 'bottom' ? 'bottom' : 'top'}` : `A ${format} message`}, as a device shows it.
        {' '}Liquid is shown as written.
      </figcaption>
    </figure>
  );
}
