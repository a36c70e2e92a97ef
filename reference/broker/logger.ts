/**
 * Structured logs of the broker: one JSON object per line (`ts`, `level`, `msg`, then fields) on
 * standard error, never on standard output (STDIO-2 keeps stdout for frames wherever a peer may be a
 * child). Embedded brokers default to `warn` so tests stay quiet; the CLI defaults to `info`.
 */

/** The log levels, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** A log level: lines below the logger's level are dropped. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where log lines go; the default writes to process.stderr. */
export type LogSink = (line: string) => void;

/** Fields added to a log line after `ts`, `level` and `msg`. */
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** true when `value` names a log level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** bigint is not JSON: counters are logged as decimal strings. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A JSON-lines logger with a level threshold and fields added to every line. */
export class Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel = 'warn',
    private readonly sink: LogSink = (line) => process.stderr.write(line),
    private readonly base: LogFields = {},
  ) {
    this.threshold = RANK[level];
  }

  /** A logger that adds `fields` to every line (for example the connection it speaks about). */
  child(fields: LogFields): Logger {
    return new Logger(this.level, this.sink, { ...this.base, ...fields });
  }

  /** Cheap guard for callers that would otherwise build fields for a line that is filtered out. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  /** Logs at level debug. */
  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }

  /** Logs at level info. */
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }

  /** Logs at level warn. */
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }

  /** Logs at level error. */
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.threshold) return;
    const record = { ts: new Date().toISOString(), level, msg, ...this.base, ...fields };
    try {
      this.sink(`${JSON.stringify(record, replacer)}\n`);
    } catch {
      // A log line must never take the broker down (a closed stderr, a throwing sink).
    }
  }
}
