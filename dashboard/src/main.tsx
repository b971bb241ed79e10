/**
 * The Herald dashboard: Preact with signals (small: the first screen is a few tens of KB
 * gzipped), served by Herald itself at / (api/routes/dashboard-assets.ts), no CDN or web font.
 * It learns everything at run time from the API it is served by.
 */
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { api } from './api/client.js';
import { needsSetup, openProject, project, role, route, session } from './state.js';
import { Login, Setup } from './screens/auth.js';
import { Keys } from './screens/keys.js';
import { Operators } from './screens/operators.js';
import { Audit } from './screens/audit.js';
import { Segments } from './screens/segments.js';
import { Profiles } from './screens/profiles.js';
import { Messages } from './screens/messages.js';
import { Send } from './screens/send.js';
import { Providers } from './screens/providers.js';
import { Audiences } from './screens/audiences.js';
import { Campaigns } from './screens/campaigns.js';
import { Automations } from './screens/automations.js';
import { SystemHealth } from './screens/health.js';
import { Cappings } from './screens/cappings.js';
import { Webhooks } from './screens/webhooks.js';
import { Exports } from './screens/exports.js';
import { Analytics } from './screens/analytics.js';
import { InApp } from './screens/in-app.js';
import { Empty, Page } from './ui.js';

/** Each screen; the hash's rest (#/messages/ID) is its argument. */
const screens: Record<string, { title: string; view: (p: { arg: string }) => preact.JSX.Element }> = {
  overview: { title: 'Overview', view: Overview },
  analytics: { title: 'Analytics', view: Analytics },
  profiles: { title: 'Profiles', view: Profiles },
  messages: { title: 'Messages', view: Messages },
  send: { title: 'Send a message', view: Send },
  segments: { title: 'Segments', view: Segments },
  audiences: { title: 'Audiences', view: Audiences },
  campaigns: { title: 'Campaigns', view: Campaigns },
  automations: { title: 'Automations', view: Automations },
  'in-app': { title: 'In-app messages', view: InApp },
  capping: { title: 'Capping and quiet hours', view: Cappings },
  exports: { title: 'Exports', view: Exports },
  webhooks: { title: 'Webhooks', view: Webhooks },
  providers: { title: 'Providers', view: Providers },
  keys: { title: 'API keys', view: Keys },
  operators: { title: 'Operators', view: Operators },
  audit: { title: 'Audit log', view: Audit },
  health: { title: 'System health', view: SystemHealth },
};

function Overview() {
  const p = project.value;
  if (!p) return <Page title="Overview"><Empty>You have no project yet. Create one with <code>herald project create NAME</code>; it appears here.</Empty></Page>;
  return (
    <Page title={p.name}>
      <dl class="facts">
        <dt>Project id</dt><dd><code>{p.id}</code></dd>
        <dt>Your role</dt><dd>{p.role}</dd>
      </dl>
      <p><a href="#/analytics">Analytics</a>: what the project sent, and how people opened and clicked, over the last days.</p>
    </Page>
  );
}

async function signOut() {
  await api.POST('/v1/dashboard/logout');
  session.value = null;
}

function Shell() {
  const s = session.value!;
  const [name = '', ...rest] = route.value.split('/');
  const current = screens[name] ? name : 'overview';
  const Screen = screens[current]!.view;
  useEffect(() => { document.title = `${screens[current]!.title} · Herald`; }, [current]);
  return (
    <div class="shell">
      {/* The hash names the screen (state.ts), so the link moves the focus itself rather than to #main, which is no screen. */}
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <strong class="brand">Herald</strong>
        {s.projects.length > 0 && (
          <label class="project-pick">
            <span>Project</span>
            <select value={project.value?.id} onChange={(e) => openProject((e.currentTarget as HTMLSelectElement).value)}>
              {s.projects.map((p) => <option value={p.id}>{p.name}</option>)}
            </select>
          </label>
        )}
        <span class="who">{s.operator.email}{role.value ? ` · ${role.value}` : ''}</span>
        <button onClick={signOut}>Sign out</button>
      </header>
      <nav aria-label="Screens">
        <ul>{Object.entries(screens).map(([id, sc]) => (
          <li><a href={`#/${id}`} aria-current={id === current ? 'page' : undefined}>{sc.title}</a></li>
        ))}</ul>
      </nav>
      <main id="main" tabIndex={-1}><Screen arg={decodeURIComponent(rest.join('/'))} /></main>
    </div>
  );
}

function App() {
  useEffect(() => {
    if (session.value !== undefined) performance.mark('herald:interactive');
  }, [session.value === undefined]);
  if (session.value === undefined) return <p class="loading">Loading Herald…</p>;
  if (session.value === null) return needsSetup.value ? <Setup /> : <Login />;
  return <Shell />;
}

async function boot() {
  const me = await api.GET('/v1/dashboard/session');
  if (me.data) { session.value = me.data; return; }
  const setup = await api.GET('/v1/dashboard/setup');
  needsSetup.value = setup.data?.needs_setup ?? false;
  session.value = null;
}

render(<App />, document.getElementById('app')!);
void boot();
