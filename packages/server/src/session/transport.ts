/** What a session needs from the socket it speaks over (WebSocket today; SSE and HTTP streaming later). */
export interface Transport {
  readonly name: string;
  /** Whether the client can send after connect (and so answer pings with pongs). */
  readonly bidirectional: boolean;
  readonly remoteAddress: string;
  /** Bytes handed to the transport but not yet on the wire. */
  readonly bufferedBytes: number;
  /** Writes one text frame (messages joined by "\n"), given as a string or UTF-8 bytes. */
  write(frame: string | Buffer): void;
  close(code: number, reason: string): void;
  /** Calls `callback` once, when the bytes buffered so far have been handed to the network. */
  onDrain(callback: () => void): void;
  /** Stops reading from the client while earlier commands run; `resume` reads on. */
  pause(): void;
  resume(): void;
}
