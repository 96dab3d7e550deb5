// A refused join: a machine-readable code, an operator-readable message and an HTTP status.
// Every refusal is a 4xx; anything else reaching the error handler is a bug.

export class JoinError extends Error {
  /** The operator's version of the message (the audit's, the admin dry-run's), when it says more than a host may hear. */
  operatorMessage?: string;

  constructor(
    public readonly code: string,
    message: string,
    public readonly status: number = 403,
    public readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'JoinError';
  }
}

/** 400: the request itself is malformed. */
export function badJoinRequest(code: string, message: string): JoinError {
  return new JoinError(code, message, 400);
}
