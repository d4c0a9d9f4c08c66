/**
 * Which output is the quality score, shared by every command that scores images (finetune, attack,
 * evaluate): `--score-output`, `--score-reduce none|mean|expectation:<bins>`, `--lower-is-better`,
 * over the model's `iqa-surgeon.score` metadata (docs/METADATA.md), over its only output.
 */
import type { Command } from 'commander';
import { parseScoreReduce, resolveScoreSpec, type ScoreSpec } from '../attacks/score.js';
import type { Model } from '../ir/model.js';

export interface ScoreFlags {
  scoreOutput?: string;
  scoreReduce?: string;
  lowerIsBetter?: boolean;
}

export function addScoreOptions(cmd: Command): Command {
  return cmd
    .option('--score-output <name>', 'which output is the quality score (required for models with several outputs)')
    .option('--score-reduce <r>', 'none (one value per image), mean, or expectation:<bins> (a distribution over bins scored 1..bins)')
    .option('--lower-is-better', 'the score is a distortion measure: attacks that "raise quality" lower it');
}

export function scoreSpecFor(model: Model, f: ScoreFlags): ScoreSpec {
  return resolveScoreSpec(model.graph.outputs.map((v) => v.name), model.metadata(), {
    ...(f.scoreOutput !== undefined ? { output: f.scoreOutput } : {}),
    ...(f.scoreReduce !== undefined ? { reduce: parseScoreReduce(f.scoreReduce) } : {}),
    ...(f.lowerIsBetter ? { lowerIsBetter: true } : {}),
  });
}
