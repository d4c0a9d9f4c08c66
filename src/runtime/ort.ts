/**
 * The one place that loads onnxruntime-node. It is loaded lazily (on the first session), so
 * importing the library does not load the native addon.
 */
export type Ort = typeof import('onnxruntime-node');
export type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
export type OrtTensor = InstanceType<Ort['Tensor']>;

let loaded: Promise<Ort> | undefined;

/** The onnxruntime-node module (imported on first use). */
export function loadOrt(): Promise<Ort> {
  loaded ??= import('onnxruntime-node').then((ort) => {
    // ONNX Runtime's process-wide logger (used before a session's own level applies, e.g. when an
    // execution provider fails to load) prints colored multi-line errors: errors come back as
    // exceptions instead, and the runtime layer says what matters in one line
    ort.env.logLevel = 'fatal';
    return ort;
  });
  return loaded;
}
