/** Run the CLI in-process (main() never throws) and capture what it prints. */
import { main } from '../../src/cli/main.js';

export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'iqa-surgeon', ...args], { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}
