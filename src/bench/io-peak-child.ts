/**
 * Child process of the I/O benchmark: loads and saves one model and prints the peak resident
 * memory it added over its own baseline (after imports), as JSON.
 */
import { Model } from '../ir/model.js';
import { peakRss } from './measure.js';

/**
 * Peak RSS of this process image. On Linux this is VmHWM: getrusage's maxRSS survives exec and
 * would report the parent's size at fork time.
 */

const [src, out] = process.argv.slice(2);
if (!src || !out) {
  process.stderr.write('usage: io-peak-child <model> <out>\n');
  process.exit(1);
}
const base = process.memoryUsage().rss;
const model = Model.load(src);
model.save(out);
const peak = peakRss();
process.stdout.write(JSON.stringify({ peakBytes: peak - base, baseBytes: base }) + '\n');
