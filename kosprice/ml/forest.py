"""Every tree of an ensemble in one set of flat numpy arrays, walked for all trees at once.

scikit-learn evaluates a forest one tree at a time, each call with its own Python and
validation overhead (about 100 µs a tree). Here the trees' nodes are concatenated, a leaf
points to itself, and a batch of rows descends all trees together: one vectorised step per
level of the deepest tree. The comparison is scikit-learn's own: `x <= threshold` goes left,
with `x` in the dtype the estimator compares in (float32 for DecisionTree-based ensembles,
which cast X before predicting; float64 for HistGradientBoosting).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class FlatForest:
    """The nodes of several trees; `leaf_values(X)` is each row's leaf value in each tree."""

    STOP_CHECK = 4
    """Every this many levels the walk checks whether all rows reached their leaves."""

    def __init__(self, features: Sequence[np.ndarray], thresholds: Sequence[np.ndarray],
                 lefts: Sequence[np.ndarray], rights: Sequence[np.ndarray],
                 leaves: Sequence[np.ndarray], values: Sequence[np.ndarray],
                 depth: int, dtype: type) -> None:
        sizes = [len(f) for f in features]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        leaf = np.concatenate(leaves).astype(bool)
        own = np.arange(int(sum(sizes)), dtype=np.intp)
        # A leaf is its own child, so rows that reached one stay there on later levels.
        self.left = np.where(leaf, own, np.concatenate(
            [np.asarray(a, np.intp) + o for a, o in zip(lefts, offsets, strict=True)]))
        self.right = np.where(leaf, own, np.concatenate(
            [np.asarray(a, np.intp) + o for a, o in zip(rights, offsets, strict=True)]))
        self.feature = np.where(leaf, 0, np.concatenate(features)).astype(np.intp)
        self.threshold = np.concatenate(thresholds).astype(np.float64)
        self.value = np.concatenate(values).astype(np.float64)
        self.roots = offsets
        self.depth = int(depth)
        self.dtype = dtype

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def n_nodes(self) -> int:
        return len(self.value)

    @classmethod
    def from_sklearn_trees(cls, trees: Sequence, scale: float = 1.0) -> FlatForest:
        """From fitted `sklearn.tree._tree.Tree` objects (single output); values × scale.

        The scale is applied once here as scikit-learn applies it per prediction
        (`scale * value`, the same float64 product), e.g. gradient boosting's learning rate.
        """
        for tree in trees:
            if tree.n_outputs != 1 or tree.value.shape[2] != 1:
                raise ValueError("only single-output regression trees are supported")
        return cls(
            features=[t.feature for t in trees], thresholds=[t.threshold for t in trees],
            lefts=[t.children_left for t in trees], rights=[t.children_right for t in trees],
            leaves=[t.children_left < 0 for t in trees],
            values=[scale * t.value[:, 0, 0] for t in trees],
            depth=max(t.max_depth for t in trees), dtype=np.float32)

    @classmethod
    def from_hist_predictors(cls, predictors: Sequence) -> FlatForest:
        """From HistGradientBoosting `TreePredictor`s (numeric splits only)."""
        nodes = [p.nodes for p in predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise ValueError("categorical splits are not supported")
        return cls(
            features=[n["feature_idx"] for n in nodes],
            thresholds=[n["num_threshold"] for n in nodes],
            lefts=[n["left"].astype(np.intp) for n in nodes],
            rights=[n["right"].astype(np.intp) for n in nodes],
            leaves=[n["is_leaf"] for n in nodes], values=[n["value"] for n in nodes],
            depth=max(int(n["depth"].max()) for n in nodes), dtype=np.float64)

    def leaf_values(self, X: np.ndarray) -> np.ndarray:
        """Return an (n_rows, n_trees) array: the value of the leaf each row reaches."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        rows, columns = X.shape
        flat = X.ravel()
        node = np.broadcast_to(self.roots, (rows, self.n_trees))
        row_start = (np.arange(rows, dtype=np.intp) * columns)[:, None]
        for level in range(1, self.depth + 1):
            index = self.feature.take(node)
            if rows > 1:
                index += row_start
            # float32 x against a float64 threshold compares exactly, as in scikit-learn.
            step = np.where(flat.take(index) <= self.threshold.take(node),
                            self.left.take(node), self.right.take(node))
            # A row's paths end well above the deepest tree's depth (fully grown forests:
            # 15-25 levels of 21-31): stop once no node moved, looked at every few levels.
            if level % self.STOP_CHECK == 0 and (step == node).all():
                break
            node = step
        return self.value.take(node)
