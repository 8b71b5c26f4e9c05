/**
 * Structured logging for the engine, on electron-log's Node entry point.
 *
 * Every entry is one JSON object per line in the log file: `t` (ISO time), `level`,
 * `component`, `msg` (a stable event name such as `purge.done`) and the entry's fields.
 * The file rotates at `maxBytes` (electron-log keeps one `.old.log`). Console output goes to
 * stderr only, so `--json` documents on stdout stay clean.
 */
import path from 'node:path';
import fs from 'node:fs';
import electronLog from 'electron-log/node';
import { tighten } from './private-files';
import { jsonTermSafe, termSafe } from './terminal';

export type Level = 'error' | 'warn' | 'info' | 'debug';
export type Fields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  child(component: string, fields?: Fields): Logger;
  /** Changes the file log's level for this logger and all its children. */
  setLevel(level: Level): void;
}

export interface LogOptions {
  /** Log file; omit for no file. */
  file?: string;
  /** Lowest level written to the file (default info). */
  fileLevel?: Level | false;
  /** Lowest level written to stderr (default warn). */
  consoleLevel?: Level | false;
  maxBytes?: number;
  /** Extra sink, e.g. the hub's in-memory ring buffer for the UI's log view. */
  sink?: (entry: LogEntry) => void;
}

export interface LogEntry extends Fields {
  t: string;
  level: Level;
  component: string;
  msg: string;
}

let counter = 0;

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as NodeJS.ErrnoException).code };
  return value;
}

export function createLogger(component: string, opts: LogOptions = {}): Logger {
  const log = electronLog.create({ logId: `cortex-${process.pid}-${++counter}` });
  log.transports.ipc && (log.transports.ipc.level = false);
  log.transports.remote && (log.transports.remote.level = false);
  if (opts.file) {
    // Owner-only whatever the umask: new log files are created 0600 (a rotated one keeps its
    // mode: rotation is a rename), older ones are tightened.
    fs.mkdirSync(path.dirname(opts.file), { recursive: true, mode: 0o700 });
    const { dir, name, ext } = path.parse(opts.file);
    for (const f of [opts.file, path.join(dir, `${name}.old${ext}`)]) tighten(f);
    log.transports.file.writeOptions = { flag: 'a', mode: 0o600, encoding: 'utf8' };
    log.transports.file.resolvePathFn = () => opts.file!;
    log.transports.file.level = opts.fileLevel ?? 'info';
    log.transports.file.maxSize = opts.maxBytes ?? 10 * 1024 * 1024;
    log.transports.file.format = ({ message }) => [String(message.data[0])];
  } else {
    log.transports.file.level = false;
  }
  // Console lines are written here, human-readable, to stderr; electron-log handles the file.
  log.transports.console.level = false;
  const LEVELS: Level[] = ['error', 'warn', 'info', 'debug'];
  const consoleMax = opts.consoleLevel === false ? -1 : LEVELS.indexOf(opts.consoleLevel ?? 'warn');
  const toConsole = (e: LogEntry) => {
    const { t, level, component, msg, ...fields } = e;
    // Fields hold paths and names from nodes: nothing in them may drive the terminal.
    const rest = Object.keys(fields).length ? ` ${jsonTermSafe(JSON.stringify(fields, jsonSafe))}` : '';
    process.stderr.write(`${t} ${level.toUpperCase()} ${termSafe(component)} ${termSafe(msg)}${rest}\n`);
  };

  let fileMax = !opts.file || opts.fileLevel === false ? -1 : LEVELS.indexOf(opts.fileLevel ?? 'info');
  let max = Math.max(fileMax, consoleMax);
  const make = (comp: string, base: Fields): Logger => {
    const write = (level: Level, msg: string, fields?: Fields) => {
      if (LEVELS.indexOf(level) > max) return;
      const entry: LogEntry = { t: new Date().toISOString(), level, component: comp, msg, ...base, ...fields };
      opts.sink?.(entry);
      if (LEVELS.indexOf(level) <= consoleMax) toConsole(entry);
      if (LEVELS.indexOf(level) <= fileMax) log[level](JSON.stringify(entry, jsonSafe));
    };
    return {
      error: (m, f) => write('error', m, f),
      warn: (m, f) => write('warn', m, f),
      info: (m, f) => write('info', m, f),
      debug: (m, f) => write('debug', m, f),
      child: (c, f) => make(c, { ...base, ...f }),
      setLevel: (level) => {
        if (!opts.file) return;
        fileMax = LEVELS.indexOf(level);
        max = Math.max(fileMax, consoleMax);
        log.transports.file.level = level;
      },
    };
  };
  return make(component, {});
}

/** A logger that drops everything; for pure unit tests. */
export const nullLogger: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return nullLogger; },
  setLevel() {},
};
