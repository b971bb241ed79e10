/** What the whole dashboard shares, as signals: the session, the open project, the screen. */
import { computed, signal } from '@preact/signals';

export type Role = 'owner' | 'admin' | 'editor' | 'viewer';

export interface SessionInfo {
  operator: { id: string; email: string; name: string; instance_owner: boolean };
  csrf_token: string;
  projects: { id: string; name: string; role: Role }[];
}

/** undefined: not known yet; null: signed out. */
export const session = signal<SessionInfo | null | undefined>(undefined);
export const needsSetup = signal(false);
export const csrfToken = computed(() => session.value?.csrf_token);
export const projectId = signal<string | undefined>(localStorage.getItem('herald.project') ?? undefined);
export const project = computed(() => session.value?.projects.find((p) => p.id === projectId.value) ?? session.value?.projects[0]);
export const role = computed<Role | undefined>(() => project.value?.role);

const rank: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };
export const can = (needed: Role): boolean => role.value !== undefined && rank[role.value] >= rank[needed];

export function openProject(id: string): void {
  projectId.value = id;
  localStorage.setItem('herald.project', id);
}

/** The screen, from the URL's hash (#/keys), so reloads and the back button keep their place. */
export const route = signal(location.hash.replace(/^#\/?/, '') || 'overview');
addEventListener('hashchange', () => { route.value = location.hash.replace(/^#\/?/, '') || 'overview'; });
