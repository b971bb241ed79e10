/**
 * Open and click tracking in an email's HTML (pure): every http(s) link of an `<a href>` becomes
 * a signed redirect (domain/tracking-token.ts) naming its index in the message, and a 1×1 image
 * whose load is the open goes at the end of the body. Other links (mailto:, tel:, anchors,
 * relative ones) are left as they are, and so is the unsubscribe link: a redirect in front of it
 * would only delay the person leaving. The plain-text part is not rewritten (its links stay
 * readable), so a click there is not counted.
 */
import { maxTrackedLinks } from './tracking-token.js';

export interface TrackingLinks {
  /** The redirect URL for link `index` whose target is `url`. */
  click(index: number, url: string): string;
  /** The open pixel's URL. */
  pixel: string;
  /** Links never rewritten (the unsubscribe URL). */
  keep: readonly string[];
}

const anchorHref = /(<a\b[^>]*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)')/gi;
const named: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };

/** The characters entities in an attribute value stand for (HTML's common ones and numeric references). */
export function decodeAttribute(v: string): string {
  return v.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[e.toLowerCase()] ?? whole;
  });
}

const escapeAttribute = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** The HTML with its links rewritten and the pixel added; `links` lists the targets by index. */
export function addTracking(html: string, t: TrackingLinks): { html: string; links: string[] } {
  const links: string[] = [];
  const rewritten = html.replace(anchorHref, (whole, start: string, dq: string | undefined, sq: string | undefined) => {
    const url = decodeAttribute((dq ?? sq ?? '').trim());
    if (!/^https?:\/\//i.test(url) || t.keep.includes(url) || links.length >= maxTrackedLinks) return whole;
    links.push(url);
    return `${start}"${escapeAttribute(t.click(links.length - 1, url))}"`;
  });
  const pixel = `<img src="${escapeAttribute(t.pixel)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
  const close = rewritten.search(/<\/body\s*>/i);
  return { html: close >= 0 ? rewritten.slice(0, close) + pixel + rewritten.slice(close) : rewritten + pixel, links };
}
