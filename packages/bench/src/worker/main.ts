import type { LeanClient } from '../clients/index.js';
import type { WorkerCalls, WorkerReply, WorkerRequest } from '../ipc.js';
import { publish, stopPublishing } from './publisher.js';
import { SubscriberPool } from './subscribers.js';

/**
 * A load-generator process (forked by the orchestrator, pinned to the generator core).
 * It answers one request at a time over IPC; subscribers and the publisher live here.
 */
let pool: SubscriberPool | undefined;
let init: WorkerCalls['init']['req'] | undefined;
let publishers: LeanClient[] = [];
let churnTimer: NodeJS.Timeout | undefined;

function needPool(): SubscriberPool {
  if (pool === undefined) throw new Error('worker not initialised');
  return pool;
}

function startChurn(perSecond: number): void {
  const startedAt = performance.now();
  let done = 0;
  let cursor = 0;
  churnTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * perSecond);
    for (; done < due; done++) cursor = needPool().churnOne(cursor);
  }, 10);
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.kind) {
    case 'init':
      init = request.body;
      pool = new SubscriberPool({ target: init.target, urls: init.urls, localAddress: init.localAddress, reconnect: init.reconnect });
      return null;
    case 'open':
      return needPool().open(request.body.subscribers, request.body.concurrency);
    case 'status':
      return needPool().status(request.body.expected);
    case 'pause':
      return needPool().setPaused(true);
    case 'resume':
      return needPool().setPaused(false);
    case 'churn':
      startChurn(request.body.perSecond);
      return null;
    case 'stopChurn':
      clearInterval(churnTimer);
      return null;
    case 'drop':
      return needPool().dropAll();
    case 'report':
      return needPool().report(request.body.expected);
    case 'publish': {
      if (init === undefined) throw new Error('worker not initialised');
      const { clients, report } = await publish(init.target, init.urls, request.body);
      publishers.push(...clients);
      return report;
    }
    case 'stopPublish':
      stopPublishing();
      return null;
    case 'shutdown':
      clearInterval(churnTimer);
      pool?.closeAll();
      for (const client of publishers) client.close();
      setTimeout(() => process.exit(0), 20).unref();
      return null;
  }
}

function reply(message: WorkerReply): void {
  process.send?.(message);
}

process.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (value) => reply({ id: request.id, ok: true, value }),
    (err: unknown) => reply({ id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The orchestrator went away: nothing left to measure.
process.on('disconnect', () => process.exit(0));
