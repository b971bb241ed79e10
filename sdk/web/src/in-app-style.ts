/**
 * The default in-app rendering's style sheet. Class selectors sit in `:where()` (no specificity),
 * so a page's own `.herald-in-app …` rules win; the sheet comes after the page's in the cascade,
 * so a page's bare element rules (`button { … }`) do not break the message. The entrance animation
 * runs only under `prefers-reduced-motion: no-preference` (W3C Media Queries Level 5, §11.1:
 * https://www.w3.org/TR/mediaqueries-5/#prefers-reduced-motion), so a user who
 * asked for less motion gets none.
 */
export const inAppStyles = `
:where(.herald-in-app-layer){position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;justify-content:center;padding:16px;box-sizing:border-box;background:rgba(0,0,0,.55)}
:where(.herald-in-app-layer-fullscreen){padding:0}
:where(.herald-in-app-layer-banner){inset:0 0 auto 0;padding:8px;background:none;pointer-events:none}
:where(.herald-in-app-layer-banner.herald-in-app-bottom){inset:auto 0 0 0}
:where(.herald-in-app){position:relative;box-sizing:border-box;width:100%;max-width:420px;max-height:100%;overflow:auto;padding:24px;border-radius:12px;background:#fff;color:#1a1a1a;font:16px/1.45 system-ui,sans-serif;box-shadow:0 8px 32px rgba(0,0,0,.3);text-align:left;pointer-events:auto}
:where(.herald-in-app-fullscreen){max-width:none;height:100%;border-radius:0}
:where(.herald-in-app-banner){max-width:640px;margin:0 auto;padding:12px 48px 12px 16px}
:where(.herald-in-app-html){max-width:640px}
:where(.herald-in-app) img{display:block;max-width:100%;height:auto;margin:0 auto 12px;border-radius:8px}
:where(.herald-in-app) h2{margin:0 32px 8px 0;font-size:1.25em;line-height:1.3}
:where(.herald-in-app) p{margin:0 0 16px}
:where(.herald-in-app-banner) p{margin:0 0 8px}
:where(.herald-in-app) iframe{display:block;width:100%;height:min(60vh,480px);border:0;margin-bottom:16px}
:where(.herald-in-app-buttons){display:flex;flex-wrap:wrap;gap:8px;justify-content:flex-end}
:where(.herald-in-app) button{font:inherit;cursor:pointer;min-height:44px;padding:8px 16px;border-radius:8px;border:2px solid #1d4ed8;background:#1d4ed8;color:#fff}
:where(.herald-in-app) button:where(.herald-in-app-button-dismiss){background:#fff;color:#1d4ed8}
:where(.herald-in-app) button:where(.herald-in-app-close){position:absolute;top:6px;right:6px;min-width:44px;padding:0;border:0;background:none;color:#1a1a1a;font-size:24px;line-height:1}
:where(.herald-in-app) button:focus-visible{outline:3px solid #b45309;outline-offset:2px}
:where(.herald-in-app):focus{outline:none}
@media (prefers-reduced-motion:no-preference){:where(.herald-in-app){animation:herald-in-app-in .2s ease-out}}
@keyframes herald-in-app-in{from{opacity:0;transform:translateY(12px)}}
`;
