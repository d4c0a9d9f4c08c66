/** The engine contract (engine-contract.ts) run against the tfjs mirror, built through the engine factory. */
import { createEngine } from '../../src/engines/factory.js';
import { describeEngineContract } from './engine-contract.js';

describeEngineContract('tfjs mirror (factory, engine tfjs)', (model, trainable) => createEngine({ model, engine: 'tfjs', trainable }));
