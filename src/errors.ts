/** Base class of every error escheduler throws; `retryable` tells whether trying again may succeed. */
export class EschedulerError extends Error {
  override name = 'EschedulerError';
  readonly retryable: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An option has a bad value; the message names the option and the value. */
export class OptionError extends EschedulerError {
  override name = 'OptionError';
}

/** The store could not be reached or did not answer within its deadline; trying again may work. */
export class StoreUnavailableError extends EschedulerError {
  override name = 'StoreUnavailableError';
  override readonly retryable = true;
}

/** The store refused a request (bad request, permission denied, too large...). */
export class StoreRequestError extends EschedulerError {
  override name = 'StoreRequestError';
}

/** A watch or a range asked for a revision that was compacted away. */
export class CompactedError extends EschedulerError {
  override name = 'CompactedError';
  constructor(
    readonly compactRevision: number,
    message = `revision compacted (compact revision ${compactRevision})`,
  ) {
    super(message);
  }
}

/** The lease does not exist (expired or revoked). */
export class LeaseNotFoundError extends EschedulerError {
  override name = 'LeaseNotFoundError';
  constructor(readonly leaseId: string) {
    super(`lease ${leaseId} not found (expired or revoked)`);
  }
}

/** A session's lease was lost: its keys are gone or about to be. */
export class SessionLostError extends EschedulerError {
  override name = 'SessionLostError';
}

/** A fenced write failed: this process is no longer the leader it was elected as. */
export class NotLeaderError extends EschedulerError {
  override name = 'NotLeaderError';
}

/** A barrier did not complete within its timeout. */
export class BarrierTimeoutError extends EschedulerError {
  override name = 'BarrierTimeoutError';
}

/** The original's `ErrWorkerNumExceedMaximum`: `maxNumNodes - 1` workers are online already. */
export class WorkerNumExceedMaximumError extends EschedulerError {
  override name = 'WorkerNumExceedMaximumError';
}

/** Another live worker registered the same name. */
export class WorkerNameTakenError extends EschedulerError {
  override name = 'WorkerNameTakenError';
}

/** A task from the generator is invalid (id, payload size, duplicate); the message names it. */
export class InvalidTaskError extends EschedulerError {
  override name = 'InvalidTaskError';
  constructor(
    readonly taskId: string,
    message: string,
  ) {
    super(message);
  }
}

/** True when trying the same operation again may succeed (connection loss, deadline). */
export function isRetryableError(err: unknown): boolean {
  return err instanceof EschedulerError && err.retryable;
}

/** The planner's input is inconsistent (duplicate task ids or worker names); the message names them. */
export class PlannerInputError extends EschedulerError {
  override name = 'PlannerInputError';
  constructor(
    message: string,
    readonly details: { taskIds?: string[]; workers?: string[] } = {},
  ) {
    super(message);
  }
}

/**
 * An operator's control request cannot be honoured as asked (issue 13): the worker is not online, the
 * task is unknown, the pin's worker is cordoned. The message names the value and, for workers, the
 * online ones (`online`); `force` records a cordon, drain or pin anyway where that makes sense.
 */
export class ControlError extends EschedulerError {
  override name = 'ControlError';
  constructor(
    message: string,
    readonly online: string[] = [],
  ) {
    super(message);
  }
}
