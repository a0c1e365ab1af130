import type { ScenarioName } from '../types.js';
import { broadcast, rooms } from './broadcast.js';
import { churn } from './churn.js';
import type { Scenario } from './context.js';
import { idle } from './idle.js';
import { presence } from './presence.js';
import { slow } from './slow.js';
import { storm } from './storm.js';

export type { Scenario, ScenarioContext } from './context.js';

export const scenarios: Readonly<Record<ScenarioName, Scenario>> = { idle, broadcast, rooms, churn, storm, slow, presence };
