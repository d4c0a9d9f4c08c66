/** Equivalence harness: structural and numeric comparison of two models (see docs/EQUIV.md). */
export { assertEquivalent, EquivalenceError } from './assert.js';
export { compareModels, type EquivOptions, type ModelRef } from './compare.js';
export { compareTensors, DEFAULT_TOLERANCES, type TensorComparison, type Tolerances, type HistogramBin } from './numeric.js';
export { comparePerLayer, type PerLayerResult, type LayerValue, type Divergence } from './per-layer.js';
export { formatReport, reportToJson, type EquivReport } from './report.js';
export { inputSpecs, runModel, seededFeeds, type Feed, type InputSpec, type RunValue } from './runner.js';
export { CanonicalHashes, compareStructure, type StructuralDifference, type StructuralOptions, type StructuralResult } from './structural.js';
