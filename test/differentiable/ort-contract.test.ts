/** The engine contract (engine-contract.ts) run unchanged against the ONNX Runtime engine, built through the engine factory. */
import { createEngine } from '../../src/engines/factory.js';
import { describeEngineContract } from './engine-contract.js';

describeEngineContract('ONNX Runtime engine (factory, engine ort)', (model, trainable) => createEngine({ model, engine: 'ort', trainable }));
