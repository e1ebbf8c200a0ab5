/** Levels of log lines, least to most severe. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One structured log line per event (JSON), with a `level` and a `msg`. */
export type LogSink = (entry: Record<string, unknown>) => void;

/**
 * JSON lines to stdout, one write per line (whole lines under concurrent writers). Kept
 * hand-written rather than pino: the server logs one line per request, which a
 * JSON.stringify does well enough, and it keeps the dependency list short.
 */
export const stdoutSink: LogSink = (entry) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
};

/** A sink that passes on only lines at `level` or above; a line without a level counts as info. */
export function atLevel(sink: LogSink, level: LogLevel): LogSink {
  const min = LOG_LEVELS.indexOf(level);
  return (entry) => {
    const at = LOG_LEVELS.indexOf((entry.level as LogLevel | undefined) ?? 'info');
    if ((at < 0 ? 1 : at) >= min) sink(entry);
  };
}

/** The level of a request's log line: failures of the server are errors, cut responses warnings. */
export function requestLevel(status: number, finished: boolean): LogLevel {
  if (status >= 500) return 'error';
  if (!finished) return 'warn';
  return 'info';
}
