/**
 * `iqa-surgeon score <model>`: which output is the quality score, how it reduces to one number per
 * image and which direction is better, with where each came from (flags, the model's
 * `iqa-surgeon.score` metadata, its only output); with -o, a copy of the model storing the choice,
 * so attack, evaluate and finetune need no score flags for it (flags still override).
 */
import type { Command } from 'commander';
import { checkScoreShape, describeScoreChoice, formatScoreReduce, readScoreMetadata, SCORE_KEY, scoreMetadata } from '../../attacks/score.js';
import { Model } from '../../ir/model.js';
import type { CliIO } from '../main.js';
import { addScoreOptions, scoreChoiceFor, type ScoreFlags } from '../score-options.js';

export function registerScore(program: Command, io: CliIO): void {
  addScoreOptions(
    program
      .command('score')
      .description(`show which output is the quality score (metadata ${SCORE_KEY}, else the only output); with -o write a copy that stores the choice, flags applied`)
      .argument('<model>', 'ONNX model file')
      .option('-o, --output <file>', `write the model with the resolved score choice stored in metadata ${SCORE_KEY}`)
      .option('--json', 'print the resolved choice as JSON'),
  ).action((file: string, opts: ScoreFlags & { output?: string; json?: boolean }) => {
    const model = Model.load(file);
    const stored = readScoreMetadata(model.metadata());
    const choice = scoreChoiceFor(model, opts);
    const out = model.graph.outputs.find((v) => v.name === choice.spec.output)!;
    const perImage = checkScoreShape(choice.spec, out.declaredShape);
    if (opts.output) {
      model.setMetadata(SCORE_KEY, scoreMetadata(choice.spec));
      model.save(opts.output);
    }
    if (opts.json) {
      const spec = { output: choice.spec.output, reduce: formatScoreReduce(choice.spec.reduce), lowerIsBetter: choice.spec.lowerIsBetter };
      io.out(`${JSON.stringify({ schema: 'iqa-surgeon/score@1', stored: stored !== undefined, score: spec, from: choice.from, valuesPerImage: perImage ?? null, ...(opts.output ? { output: opts.output } : {}) }, null, 2)}\n`);
      return;
    }
    io.out(`${describeScoreChoice(choice)}${perImage !== undefined ? `; ${perImage} value(s) per image` : ''}\n`);
    if (opts.output) io.out(`wrote ${opts.output} (metadata ${SCORE_KEY} = ${scoreMetadata(choice.spec)})\n`);
  });
}
