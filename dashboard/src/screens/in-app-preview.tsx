/**
 * How an in-app message looks on a device (docs/in-app.md, "Formats and content"), drawn from the
 * editor's form as it is typed: a modal over the dimmed app, a banner at its top or bottom, a full
 * screen, an image, or an html document in a sandboxed iframe (srcdoc, no scripts: the SDK's own
 * sandbox is https://developer.mozilla.org/en-US/docs/Web/HTML/Element/iframe#sandbox). Liquid is
 * shown as written, since each profile sees its own rendering. The styles are set through the
 * DOM (the dashboard's Content-Security-Policy allows no inline style sheet) and kept here, so the
 * preview does not change the dashboard's shared CSS.
 */
import type { CSSProperties } from 'preact';

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
  return <img src={url} alt="" style={box} />;
}

function Message({ format, c }: { format: string; c: PreviewContent }) {
  if (format === 'html') {
    return (
      // sandbox="" runs no script, submits no form and gives the document an opaque origin.
      <iframe title="The HTML message" sandbox="" srcdoc={c.html ?? ''} style={{ width: '100%', height: '100%', border: 0, background: '#fff' }} />
    );
  }
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
