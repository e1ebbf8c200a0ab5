/** `url` with its password (if any) replaced by `***`, for logs and messages; unparsable URLs as `(invalid URL)`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
