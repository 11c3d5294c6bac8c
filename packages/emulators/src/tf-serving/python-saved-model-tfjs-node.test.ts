import { loadTfjs } from './backend/tfjs-backend.js';
import { createModelRunner } from './model-runner-factory.js';
import { describeCorpus } from './testing/python-corpus.js';

// The Python-exported corpus (see python-saved-model.test.ts) on TensorFlow's own kernels through tfjs-node
// (node scripts/tfjs-node/setup.mjs): every model runs as the real server runs it, but for what tfjs-node's
// binding cannot carry at all (DT_DOUBLE tensors), which is refused at start.
describeCorpus('tfjs-node', () => createModelRunner({ loadTfjs, prefer: 'tensorflow' }), {
  refusedAtStart: { float64_math: 'DT_DOUBLE' },
});
