/**
 * How the page tells what contract/notices.ts decides, as pure functions (tested without a
 * browser): by the Notification API when the browser allows it, else an in-page toast; inside
 * the desktop app not at all (its main process shows native notifications, window or not:
 * main/desktop/notify.ts). And where a click on a notice leads.
 */
import type { NoticeMessage } from '../../main/contract/notices';
import type { View } from './store';

export type Permission = NotificationPermission | 'unsupported';
export type Delivery = 'system' | 'toast' | 'none';

/** The Notification API's permission in this page, or 'unsupported'. */
export function notificationPermission(w: { Notification?: { permission: NotificationPermission } }): Permission {
  return w.Notification ? w.Notification.permission : 'unsupported';
}

export function deliveryOf(inDesktopApp: boolean, permission: Permission): Delivery {
  if (inDesktopApp) return 'none';
  return permission === 'granted' ? 'system' : 'toast';
}

/** Conflicts only: the Conflicts view; one node: its detail; else the overview. */
export function viewOf(m: Pick<NoticeMessage, 'notices'>): View {
  if (m.notices.every((n) => n.kind === 'conflicts')) return { name: 'conflicts' };
  const ids = new Set(m.notices.map((n) => n.nodeId));
  return ids.size === 1 ? { name: 'node', id: m.notices[0]!.nodeId } : { name: 'nodes' };
}

/** What a toast's button says, for where viewOf leads. */
export function showLabel(v: View): string {
  return v.name === 'conflicts' ? 'Show conflicts' : v.name === 'node' ? 'Show node' : 'Show nodes';
}

/** What the settings say about how notices reach the operator here. */
export function deliveryText(inDesktopApp: boolean, permission: Permission): string {
  if (inDesktopApp) return 'The desktop app shows them as system notifications, with its window closed too.';
  switch (permission) {
    case 'granted': return 'This browser shows them as system notifications while this page is open.';
    case 'denied': return 'This browser blocks notifications from this page (its site settings can allow them): they show inside the page.';
    case 'default': return 'They show inside this page; allow notifications to see them outside it too.';
    case 'unsupported': return 'This browser has no notifications: they show inside this page.';
  }
}
