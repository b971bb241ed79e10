/**
 * A small default inbox an app can use as it is or replace with its own over Herald.inbox.fetch
 * and markRead. Plain DOM, no styles of its own beyond the browser's (class names to style it):
 * a labelled region, a heading with the unread count announced politely to screen readers, a
 * list of items as buttons (keyboard and screen reader reach them as such), "Mark all as read"
 * and "Show more". Text is set with textContent only: a message's title can never become markup.
 */
import type { InboxItem, InboxPage } from './types.js';

export interface InboxElementOptions {
  /** Items per page. Default 20. */
  pageSize?: number;
  /** The heading's text. Default "Inbox". */
  title?: string;
  /** Called when the user opens an item (after it was marked opened); default: go to its deeplink. */
  onOpen?: (item: InboxItem) => void;
}

export interface InboxSource {
  fetch(o: { cursor?: string | null; limit?: number }): Promise<InboxPage>;
  mark(ids: readonly string[] | 'all', action: 'read' | 'opened'): Promise<number>;
}

export interface InboxElement {
  /** Reads the first page again (after a push arrived, say). */
  refresh(): Promise<void>;
  /** Removes the element. */
  destroy(): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function renderInboxElement(container: HTMLElement, source: InboxSource, o: InboxElementOptions = {}): InboxElement {
  const pageSize = o.pageSize ?? 20;
  const root = el('section', 'herald-inbox');
  const headingId = `herald-inbox-${Math.random().toString(36).slice(2)}`;
  root.setAttribute('aria-labelledby', headingId);
  const heading = el('h2', 'herald-inbox-title', o.title ?? 'Inbox');
  heading.id = headingId;
  const count = el('span', 'herald-inbox-unread');
  count.setAttribute('aria-live', 'polite');
  const readAll = el('button', 'herald-inbox-read-all', 'Mark all as read');
  readAll.type = 'button';
  const list = el('ul', 'herald-inbox-items');
  const empty = el('p', 'herald-inbox-empty', 'No messages');
  const more = el('button', 'herald-inbox-more', 'Show more');
  more.type = 'button';
  root.append(heading, count, readAll, list, empty, more);
  container.append(root);

  let cursor: string | null = null;
  const showUnread = (n: number) => {
    count.textContent = n === 1 ? '1 unread' : `${n} unread`;
    readAll.disabled = n === 0;
  };

  const row = (item: InboxItem): HTMLLIElement => {
    const li = el('li', item.read_at ? 'herald-inbox-item' : 'herald-inbox-item herald-inbox-item-unread');
    const open = el('button', 'herald-inbox-open');
    open.type = 'button';
    const title = el('strong', 'herald-inbox-item-title', item.title);
    const state = el('span', 'herald-inbox-item-state', item.read_at ? '' : 'Unread: ');
    const body = el('span', 'herald-inbox-item-body', item.body);
    const time = el('time', 'herald-inbox-item-time', new Date(item.created_at).toLocaleString());
    time.dateTime = item.created_at;
    open.append(state, title, ' ', body, ' ', time);
    open.addEventListener('click', () => {
      void source.mark([item.id], 'opened').then((n) => {
        item.read_at ??= new Date().toISOString();
        li.classList.remove('herald-inbox-item-unread');
        state.textContent = '';
        showUnread(n);
        if (o.onOpen) o.onOpen(item);
        else if (item.deeplink) location.assign(item.deeplink);
      }, (err: unknown) => console.warn('Herald inbox:', err));
    });
    li.append(open);
    return li;
  };

  const load = async (first: boolean) => {
    const page = await source.fetch({ cursor: first ? null : cursor, limit: pageSize });
    if (first) list.replaceChildren();
    list.append(...page.items.map(row));
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    empty.hidden = list.childElementCount > 0;
    showUnread(page.unread);
  };

  more.addEventListener('click', () => { void load(false).catch((err: unknown) => console.warn('Herald inbox:', err)); });
  readAll.addEventListener('click', () => {
    void source.mark('all', 'read').then(async (n) => {
      showUnread(n);
      await load(true);
    }, (err: unknown) => console.warn('Herald inbox:', err));
  });
  const refresh = () => load(true);
  void refresh().catch((err: unknown) => console.warn('Herald inbox:', err));
  return { refresh, destroy: () => root.remove() };
}
