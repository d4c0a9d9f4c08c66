#!/usr/bin/env bash
# The main job (`npm start`): the whole method on the shipped Linearity-style model and the embedded
# dataset, ending with the robustness report. Every step is one iqa-surgeon command; outputs in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
cli() { echo; echo "\$ iqa-surgeon $*"; node bin/iqa-surgeon.js "$@"; }
rm -rf out && mkdir -p out
M=graphs/linearity_r18w16.onnx
cli inspect "$M"
cli stages "$M"
# 1. splice a RobustBlock after layer3 (trainable form) and check the deployable form against it
cli splice "$M" --stage layer3 -o out/linearity_robust.onnx
cli materialize out/linearity_robust.onnx -o out/linearity_robust_deploy.onnx
cli equiv out/linearity_robust.onnx out/linearity_robust_deploy.onnx
cli equiv out/linearity_robust.onnx --mirror
# 2. the embedded dataset (procedural images scored by SSIM; docs/DATA.md)
cli dataset make-default --out out/data --size 200
# 3. prune 10% of the filters (l2), 4. fine-tune one epoch, deploy the block materialized
cli prune out/linearity_robust.onnx --ratio 0.1 -o out/linearity_pruned.onnx
cli finetune out/linearity_pruned.onnx --data out/data --epochs 1 --lr 1e-4 --materialize -o out/linearity_patched.onnx
# 5. attack the original and the patched model, scored by ONNX Runtime; the report
cli evaluate out/linearity_patched.onnx --baseline "$M" --data out/data --split test --max-images 8 \
  --attacks pgd-1,pgd-8,uap,stadv --eps 2,4,6,8,10 --report out/report
echo
echo "open out/report/index.html"
