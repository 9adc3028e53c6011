// Cross-entropy from log-softmax and a gather: the loss every graph with labels uses.
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

/**
 * Mean cross-entropy of logits [..., C] against integer labels [...]; labels equal to ignoreIndex count
 * for nothing (the mean is over the others).
 */
export function crossEntropy(
  g: Graph,
  logits: Tensor,
  labels: Tensor,
  opts: { ignoreIndex?: number } = {},
): Tensor {
  return g.scope('cross_entropy', () => {
    if (labels.rank !== logits.rank - 1)
      g.fail('crossEntropy', [logits, labels], 'labels must be logits without the class axis');
    const lsm = g.logSoftmax(logits, -1);
    const lab = g.cast(labels, 'int64');
    if (opts.ignoreIndex === undefined) {
      const picked = g.gatherElements(lsm, g.unsqueeze(lab, [-1]), -1);
      return g.neg(g.mean(picked));
    }
    const keep = g.not(g.equal(lab, opts.ignoreIndex));
    const safe = g.where(keep, lab, 0);
    const picked = g.squeeze(g.gatherElements(lsm, g.unsqueeze(safe, [-1]), -1), [-1]);
    const w = g.cast(keep, logits.dtype);
    const total = g.sum(g.mul(picked, w));
    return g.neg(g.div(total, g.maximum(g.sum(w), 1)));
  });
}
