export type Errno = 'EINVAL' | 'ENOMEM' | 'EBUSY' | 'EPERM' | 'ENOTCONN' | 'EOPNOTSUPP' | 'ENODEV' | 'EAGAIN';

/** Every failing verbs call throws this: the errno libibverbs would return and what was wrong. */
export class VerbsError extends Error {
  override readonly name = 'VerbsError';
  constructor(
    readonly errno: Errno,
    message: string,
    /** For postSend/postRecv: index of the WR that was refused; the ones before it stay posted. */
    readonly badWr?: number,
  ) {
    super(`${errno}: ${message}`);
  }
}

export function einval(message: string, badWr?: number): VerbsError {
  return new VerbsError('EINVAL', message, badWr);
}
