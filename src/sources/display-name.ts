/**
 * A name for a source key fit to show anyone: the last folder and the file name of a
 * path, host and path of a URL (no credentials, no query: it may hold a token).
 */
export function displayName(key: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(key)) {
    try {
      const u = new URL(key);
      if (u.protocol === 'file:') return displayName(decodeURIComponent(u.pathname));
      return `${u.host}${u.pathname}`;
    } catch {
      return key.replace(/[?#].*$/s, '');
    }
  }
  if (key.startsWith('virtual:')) return key.slice(0, 20);
  if (key.startsWith('/') || /^[A-Za-z]:[\\/]/.test(key)) return key.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
  return key;
}
