import { DisconnectCode, disconnectCodes, ErrorCode, errorCodes } from '@fleetgate/protocol';

/** A command failed: answered with an error reply carrying `code` (100–112). */
export class ReplyError extends Error {
  override readonly name = 'ReplyError';
  readonly temporary: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string = errorCodes[code].message,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.temporary = errorCodes[code].temporary;
  }

  toBody(): { code: number; message: string; temporary?: boolean } {
    return this.temporary ? { code: this.code, message: this.message, temporary: true } : { code: this.code, message: this.message };
  }
}

/** A command ends the connection: closed with `code` and the table's reason. */
export class DisconnectError extends Error {
  override readonly name = 'DisconnectError';
  readonly reason: string;

  constructor(
    readonly code: DisconnectCode,
    detail?: string,
    options?: ErrorOptions,
  ) {
    const reason = disconnectCodes[code].reason;
    super(detail === undefined ? reason : `${reason}: ${detail}`, options);
    this.reason = reason;
  }
}

export { DisconnectCode, ErrorCode };
