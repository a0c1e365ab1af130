import { type Command, decodeCommands, DisconnectCode, encodeError, ErrorCode, ProtocolError } from '@fleetgate/protocol';
import { DisconnectError, ReplyError } from '../errors.js';
import { handleCommand } from './commands.js';
import type { Session } from './session.js';

/** Publishes of one connection waiting for the broker at once; the next waits for a slot. */
const maxPublishesInFlight = 64;

/**
 * Reads a connection's frames and runs their commands in order. While a command waits
 * (token check, broker), later frames queue here (bounded in bytes, 3013 past it) and
 * the socket stops being read.
 */
export class CommandRunner {
  private backlog: string[] = [];
  private backlogBytes = 0;
  private running = false;
  private readonly publishing = new Set<Promise<void>>();

  constructor(private readonly s: Session) {}

  receive(frame: string): void {
    const { s } = this;
    if (s.state === 'closed') return;
    s.ctx.traffic.framesIn += 1;
    s.ctx.traffic.bytesIn += frame.length;
    if (this.running) {
      // Frames read in the same socket read arrive before the pause takes hold: bounded in bytes.
      this.backlogBytes += frame.length;
      if (this.backlogBytes > s.ctx.client.maxPendingBytes) return s.close(DisconnectCode.TooManyRequests, 'too many pending frames');
      this.backlog.push(frame);
      s.transport.pause();
      return;
    }
    this.run(frame).catch((err: unknown) => {
      s.ctx.logger.error({ err, client: s.id }, 'session failed');
      s.close(DisconnectCode.Internal);
    });
  }

  clear(): void {
    this.backlog = [];
    this.backlogBytes = 0;
  }

  private async run(first: string): Promise<void> {
    this.running = true;
    let frame: string | undefined = first;
    while (frame !== undefined && this.s.state !== 'closed') {
      await this.runFrame(frame);
      frame = this.backlog.shift();
      if (frame !== undefined) this.backlogBytes -= frame.length;
    }
    this.running = false;
    // Also after a close: the socket must read the client's close reply to finish.
    this.s.transport.resume();
  }

  private async runFrame(frame: string): Promise<void> {
    const { s } = this;
    if (s.connectFailed) return s.close(DisconnectCode.BadRequest, 'command after a failed connect');
    let commands: Command[];
    try {
      commands = decodeCommands(frame);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      s.ctx.logger.info({ client: s.id, user: s.user, reason: err.message }, 'bad frame');
      return s.close(DisconnectCode.BadRequest, err.message);
    }
    for (const command of commands) {
      if (s.state === 'closed' || s.connectFailed) return;
      const running = this.runCommand(command);
      if (command.method !== 'publish') {
        await running;
        continue;
      }
      // Publishes reach the broker in command order (their synchronous part runs now) but do
      // not wait for each other's answer: a client's publish rate is not one broker round trip.
      this.publishing.add(running);
      void running.finally(() => this.publishing.delete(running));
      if (this.publishing.size >= maxPublishesInFlight) await Promise.race(this.publishing);
    }
  }

  private async runCommand(command: Command): Promise<void> {
    const { s } = this;
    try {
      if (command.method === 'pong') return s.heartbeat.onPong();
      s.ctx.metrics.commands.inc({ method: command.method });
      await handleCommand(s, command);
    } catch (err) {
      if (err instanceof DisconnectError) return s.close(err.code, err.message);
      const replyError = err instanceof ReplyError ? err : new ReplyError(ErrorCode.Internal, undefined, { cause: err });
      if (replyError.code === ErrorCode.Internal) s.ctx.logger.error({ err, client: s.id, method: command.method }, 'command failed');
      s.ctx.metrics.commandErrors.inc({ method: command.method, code: replyError.code });
      if (command.method === 'connect') s.connectFailed = true;
      if (s.state !== 'closed') s.reply(encodeError(command.id, replyError.toBody()));
    }
  }
}
