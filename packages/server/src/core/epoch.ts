import { randomInt } from 'node:crypto';

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A new stream epoch: 8 random letters, as Centrifugo makes them. */
export function newEpoch(): string {
  let epoch = '';
  for (let i = 0; i < 8; i++) epoch += letters[randomInt(letters.length)];
  return epoch;
}
