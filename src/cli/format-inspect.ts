import type { InspectReport } from '../analysis/inspect.js';
import { formatBytes, formatCount, formatShape, table } from './format.js';

export function formatInspect(r: InspectReport): string {
  let s = '';
  s += `model       ${r.file ?? '(in memory)'}${r.fileBytes !== null ? ` (${formatBytes(r.fileBytes)})` : ''}\n`;
  s += `ir_version  ${r.irVersion}\n`;
  s += `opsets      ${r.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}\n`;
  s += `producer    ${[r.producer.name, r.producer.version].filter(Boolean).join(' ') || '(none)'}\n`;
  s += `inputs\n${table(r.inputs.map((t) => [t.name, t.elemType, formatShape(t.shape)]), '  ')}`;
  s += `outputs\n${table(r.outputs.map((t) => [t.name, t.elemType, formatShape(t.shape)]), '  ')}`;
  s += `nodes       ${r.nodes}${r.subgraphs ? ` (${r.subgraphs} subgraphs)` : ''}\n`;
  s += `ops\n${table(Object.entries(r.ops).map(([k, v]) => [k, String(v)]), '  ')}`;
  s += `params      ${formatCount(r.params)} (${r.initializers} initializers, ${formatBytes(r.initializerBytes)})\n`;
  s += `MACs        ${r.macs === null ? 'unknown (shapes could not be inferred)' : formatCount(r.macs)}\n`;
  if (r.externalData.tensors > 0) {
    s += `external    ${r.externalData.tensors} tensors, ${formatBytes(r.externalData.bytes)} in ${r.externalData.files.join(', ')}\n`;
  }
  if (r.functions.length) s += `functions   ${r.functions.join(', ')}\n`;
  const meta = Object.entries(r.metadata);
  if (meta.length) s += `metadata\n${table(meta.map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 77)}...` : v]), '  ')}`;
  return s;
}
