/**
 * The ops the shape-inference issue lists as needing static rules ("the ops IQA CNNs use"), plus
 * the Shape -> Gather chain ops PyTorch emits. Values these ops produce must be shaped by rules.
 */
export const LISTED_OPS: ReadonlySet<string> = new Set([
  'Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalMaxPool', 'GlobalAveragePool', 'Gemm', 'MatMul',
  // broadcasting elementwise
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod', 'PRelu', 'Where',
  'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor',
  'BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh',
  'Reshape', 'Flatten', 'Transpose', 'Concat', 'Split', 'Slice', 'Pad', 'Squeeze', 'Unsqueeze', 'Resize',
  'ReduceMean', 'ReduceSum', 'Softmax', 'Dropout', 'Identity', 'Constant', 'ConstantOfShape',
  'Shape', 'Gather',
]);
