/** Errors the engine raises for conditions an admin can act on. Messages never contain secrets. */

export class RepositoryNotFoundError extends Error {
  constructor(location: string) {
    super(`no repository at ${location} (config file missing): create one with "lifeboat init"`);
    this.name = 'RepositoryNotFoundError';
  }
}

export class RepositoryLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RepositoryLockedError';
  }
}

export class SnapshotNotFoundError extends Error {
  constructor(ref: string) {
    super(`no snapshot matches ${JSON.stringify(ref)}`);
    this.name = 'SnapshotNotFoundError';
  }
}

export class OperationCancelledError extends Error {
  constructor(what: string) {
    super(`${what} was cancelled`);
    this.name = 'OperationCancelledError';
  }
}
