import { DisconnectCode } from './codes.js';

/**
 * The only error the codec throws: the input is not a well-formed protocol message.
 * A server answers it with disconnect 3501 (bad request); `path` names the bad part.
 */
export class ProtocolError extends Error {
  readonly code = DisconnectCode.BadRequest;
  override readonly name = 'ProtocolError';

  constructor(
    readonly path: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${detail}`, options);
  }
}
