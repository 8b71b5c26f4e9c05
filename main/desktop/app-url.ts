/**
 * The desktop UI is served from app://cortex/ (a privileged custom scheme, so the page has a
 * real origin, a CSP header and no file:// access). Pure helpers, tested under plain Node.
 */
import path from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'cortex';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX = `${APP_ORIGIN}/index.html`;

/** Whether a URL is a page of our own UI. */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** The file under `root` an app:// URL names, or null (other host, escapes root, bad encoding). */
export function rendererFile(url: string, root: string): string | null {
  if (!isAppUrl(url)) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(new URL(url).pathname);
  } catch {
    return null;
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  if (rel.includes('\0')) return null;
  const file = path.resolve(root, `.${rel}`);
  const base = path.resolve(root);
  return file.startsWith(base + path.sep) ? file : null;
}
