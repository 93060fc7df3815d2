"""Every tree of an ensemble in one set of flat numpy arrays, walked for all trees at once.

scikit-learn evaluates a forest one tree at a time, each call with its own Python and
validation overhead (about 100 µs a tree). Here the trees' nodes are concatenated, each
node's two children side by side, a leaf points to itself, and a batch of rows descends all
trees together: one vectorised step per level, until every row has reached its leaves.
The comparison is scikit-learn's own: `x <= threshold` goes left, with `x` in the dtype
the estimator compares in (float32 for DecisionTree-based ensembles, which cast X before
predicting; float64 for HistGradientBoosting).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def siblings_adjacent(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> np.ndarray:
    """New node ids for one tree (root 0) in which each node's children are neighbours:
    the left one is the right one minus 1, so one step needs a single child lookup."""
    internal = np.flatnonzero(~leaf)
    pair = np.arange(len(internal), dtype=np.intp) * 2
    new = np.full(len(leaf), -1, dtype=np.intp)
    new[0] = 0
    new[left[internal]] = pair + 1
    new[right[internal]] = pair + 2
    if len(leaf) != 2 * len(internal) + 1 or not np.array_equal(
            np.sort(new), np.arange(len(leaf))):
        raise ValueError("not a binary tree rooted at node 0")
    return new


class FlatForest:
    """The nodes of several trees; `leaf_values(X)` is each row's leaf value in each tree."""

    STOP_CHECK = 4
    """Every this many levels the walk checks whether all rows reached their leaves."""

    def __init__(self, features: Sequence[np.ndarray], thresholds: Sequence[np.ndarray],
                 lefts: Sequence[np.ndarray], rights: Sequence[np.ndarray],
                 leaves: Sequence[np.ndarray], values: Sequence[np.ndarray],
                 depth: int, dtype: type) -> None:
        order = [siblings_adjacent(np.asarray(left, np.intp), np.asarray(right, np.intp),
                                   np.asarray(leaf, bool))
                 for left, right, leaf in zip(lefts, rights, leaves, strict=True)]
        sizes = [len(o) for o in order]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)

        def placed(values, new: np.ndarray, dtype) -> np.ndarray:
            moved = np.empty(len(new), dtype)
            moved[new] = values
            return moved

        def laid_out(arrays, dtype) -> np.ndarray:
            """Each tree's per-node array in its sibling-adjacent order, concatenated."""
            return np.concatenate([placed(values, new, dtype)
                                   for values, new in zip(arrays, order, strict=True)])

        leaf = laid_out(leaves, bool)
        # A leaf is its own child and its threshold NaN (`x <= NaN` is never true), so rows
        # that reached one stay there on later levels.
        self.right = np.concatenate([
            placed(np.where(is_leaf, new, new.take(np.maximum(right, 0))), new, np.intp) + o
            for new, right, is_leaf, o in zip(order, rights, leaves, offsets, strict=True)])
        self.internal = ~leaf
        self.feature = np.where(leaf, 0, laid_out(features, np.intp)).astype(np.intp)
        self.threshold = np.where(leaf, np.nan, laid_out(thresholds, np.float64))
        self.value = laid_out(values, np.float64)
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
            # `x <= threshold` goes left, which is the right child's neighbour.
            step = self.right.take(node) - (flat.take(index) <= self.threshold.take(node))
            # A row's paths end well above the deepest tree's depth (fully grown forests:
            # 15-25 levels of 21-31): stop once no node moved, looked at every few levels.
            if level % self.STOP_CHECK == 0 and (step == node).all():
                break
            node = step
        return self.value.take(node)
