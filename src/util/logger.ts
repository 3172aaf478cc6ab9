/**
 * The logger the library writes to: pino's call shape (`logger.info({ ctx }, 'message')`), so a pino
 * logger can be passed as is. The library is silent by default.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): Logger;
}

const noop = () => {};

/** A logger that drops everything: the default. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** `logger.child(bindings)` when the logger has it, else the logger itself. */
export function childLogger(logger: Logger, bindings: object): Logger {
  return logger.child ? logger.child(bindings) : logger;
}
