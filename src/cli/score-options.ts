/**
 * Which output is the quality score, shared by every command that scores images (finetune, attack,
 * evaluate): `--score-output`, `--score-reduce none|mean|expectation:<bins>`, `--lower-is-better`,
 * over the model's `iqa-surgeon.score` metadata (docs/METADATA.md), over its only output.
 */
import type { Command } from 'commander';
import { describeScoreChoice, parseScoreReduce, resolveScoreChoice, type ScoreChoice, type ScoreSpec } from '../attacks/score.js';
import { UsageError } from '../errors.js';
import type { Model } from '../ir/model.js';

export interface ScoreFlags {
  scoreOutput?: string;
  scoreReduce?: string;
  lowerIsBetter?: boolean;
  higherIsBetter?: boolean;
}

export function addScoreOptions(cmd: Command): Command {
  return cmd
    .option('--score-output <name>', 'which output is the quality score (required for models with several outputs)')
    .option('--score-reduce <r>', 'none (one value per image), mean, or expectation:<bins> (a distribution over bins scored 1..bins)')
    .option('--lower-is-better', 'the score is a distortion measure: attacks that "raise quality" lower it')
    .option('--higher-is-better', "the score rises with quality (the default; overrides a model's stored lower-is-better)");
}

/** The score choice: flags over the model's `iqa-surgeon.score` metadata over its only output. */
export function scoreChoiceFor(model: Model, f: ScoreFlags): ScoreChoice {
  if (f.lowerIsBetter && f.higherIsBetter) throw new UsageError('--lower-is-better and --higher-is-better contradict each other');
  return resolveScoreChoice(model.graph.outputs.map((v) => v.name), model.metadata(), {
    ...(f.scoreOutput !== undefined ? { output: f.scoreOutput } : {}),
    ...(f.scoreReduce !== undefined ? { reduce: parseScoreReduce(f.scoreReduce) } : {}),
    ...(f.lowerIsBetter ? { lowerIsBetter: true } : {}),
    ...(f.higherIsBetter ? { lowerIsBetter: false } : {}),
  });
}

export function scoreSpecFor(model: Model, f: ScoreFlags): ScoreSpec {
  return scoreChoiceFor(model, f).spec;
}

/** The score used and where it came from, as printed by attack, evaluate and finetune. */
export function scoreLine(model: Model, f: ScoreFlags, label?: string): string {
  return `${label ? `${label}: ` : ''}${describeScoreChoice(scoreChoiceFor(model, f))}`;
}
