"""Can a notebook look the hidden Fashion-MNIST labels up in the public files?

    python bench/hidden_lookup.py [--queries 1000] [--seeds 0 1] [--threads 2]
        [--candidates none noise shift-flip-noise affine-flip-noise]

For each candidate of ``helpers.data.hidden.TRANSFORMS`` and each seed, the public test split
is transformed as the grader would transform the hidden set, and this prints:

- ``exact``: accuracy of an exact-match lookup (the label of an identical image in the public
  test or train split; no match counts as wrong) and how many images matched;
- ``nn-test``: accuracy of a nearest-neighbour lookup in the public test split (L2 on pixels);
- ``nn-test+inv``: the same, after trying both mirrors and every whole-pixel shift up to the
  candidate's largest shift (rounded up) on each query, keeping the closest match, as a
  determined student would;
- ``1nn-train``: a nearest-neighbour classifier over the public *train* split (L2 on pixels):
  a legitimate, if weak, model. A lookup in the test split that scores no more than this has
  lost what the public test labels gave it;
- ``a1``, ``a2``: accuracy of the reference solutions (a1's NumPy MLP weights, a2's
  ImprovedNet) on the whole transformed split.

The lookups use the first ``--queries`` images of a seeded shuffle (10,000 x 70,000 pixel
distances per variant would take minutes on two cores); the references use all 10,000.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.data.fashion import fashion_mnist  # noqa: E402
from helpers.data.hidden import TRANSFORMS, ImageTransform, transform_images  # noqa: E402

A1_WEIGHTS = ROOT / "assignments" / "a1_mlp_numpy" / "reference" / "mlp_weights.npz"
A2_DIR = ROOT / "assignments" / "a2_cnn_fashion" / "reference"
A2_MEAN, A2_STD = 0.286, 0.353  # the notebook's MEAN and STD


def exact_lookup(queries: np.ndarray, public: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Label of the public image with the same bytes as each query, -1 where none: int64 (Q,)."""
    by_bytes = {image.tobytes(): int(label) for image, label in zip(public, labels, strict=True)}
    return np.array([by_bytes.get(q.tobytes(), -1) for q in queries], dtype=np.int64)


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` (N, H, W) moved down ``dy`` and right ``dx`` whole pixels, black filled in."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def nn_lookup(
    queries: np.ndarray, public: np.ndarray, labels: np.ndarray, *, flips: bool, shift: int
) -> np.ndarray:
    """Label of the public image nearest (L2 on pixels) to any variant of each query: int64 (Q,).

    Variants: the query itself, its mirror when ``flips``, each moved by every whole-pixel shift
    in [-shift, shift] along both axes.
    """
    ref = torch.from_numpy(public.reshape(len(public), -1).astype(np.float32))
    ref_sq = (ref * ref).sum(1)
    best = torch.full((len(queries),), math.inf)
    best_index = torch.zeros(len(queries), dtype=torch.int64)
    bases = [queries, queries[:, :, ::-1]] if flips else [queries]
    for base in bases:
        for dy in range(-shift, shift + 1):
            for dx in range(-shift, shift + 1):
                q = torch.from_numpy(
                    shifted(np.ascontiguousarray(base), dy, dx).reshape(len(queries), -1)
                ).float()
                # |q - r|^2 = |q|^2 - 2 q.r + |r|^2, one matrix product per variant.
                dist = (q * q).sum(1, keepdim=True) - 2 * q @ ref.T + ref_sq
                value, index = dist.min(1)
                closer = value < best
                best[closer], best_index[closer] = value[closer], index[closer]
    return labels[best_index.numpy()]


def a1_accuracy(images: np.ndarray, labels: np.ndarray) -> float:
    """a1's reference MLP (ReLU, NumPy), as the notebook's prediction cell runs it."""
    with np.load(A1_WEIGHTS, allow_pickle=False) as saved:
        weights = {k: saved[k] for k in saved.files}
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    h = (x - weights["feature_mean"]) / weights["feature_std"]
    layers = sum(1 for k in weights if k.startswith("W"))
    for layer in range(1, layers + 1):
        h = h @ weights[f"W{layer}"] + weights[f"b{layer}"]
        if layer < layers:
            h = np.maximum(h, 0)
    return float((h.argmax(1) == labels).mean())


def a2_accuracy(images: np.ndarray, labels: np.ndarray) -> float:
    """a2's reference ImprovedNet on the CPU, inputs normalised as the notebook does."""
    sys.path.insert(0, str(A2_DIR))
    from improved_net import ImprovedNet

    net = ImprovedNet()
    net.load_state_dict(
        torch.load(A2_DIR / "improved_net.pt", map_location="cpu", weights_only=True)
    )
    net.eval()
    x = (torch.from_numpy(images).float()[:, None] / 255 - A2_MEAN) / A2_STD
    with torch.no_grad():
        predicted = torch.cat([net(batch).argmax(1) for batch in x.split(1000)])
    return float((predicted.numpy() == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000, help="images per lookup")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="transform seeds")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--candidates", nargs="+", default=list(TRANSFORMS), choices=TRANSFORMS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test, train = fashion_mnist("test"), fashion_mnist("train")
    public = np.concatenate([test.images, train.images])
    public_labels = np.concatenate([test.labels, train.labels])
    pick = np.random.default_rng(99).permutation(len(test))[: args.queries]
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{args.threads} torch threads; lookups on {len(pick)} images, references on "
          f"{len(test)}")  # fmt: skip
    header = ["transform", "seed", "exact", "matched", "nn-test", "nn-test+inv", "1nn-train",
              "a1", "a2", "seconds"]  # fmt: skip
    print(" ".join(f"{h:>17}" if i == 0 else f"{h:>11}" for i, h in enumerate(header)))
    for name in args.candidates:
        transform: ImageTransform = TRANSFORMS[name]
        for seed in args.seeds:
            start = time.perf_counter()
            hidden = transform_images(test.images, transform, seed)
            found = exact_lookup(hidden, public, public_labels)
            queries, truth = hidden[pick], test.labels[pick]
            reach = math.ceil(transform.shift)
            row = [
                float((found == test.labels).mean()),
                int((found >= 0).sum()),
                float((nn_lookup(queries, test.images, test.labels, flips=False, shift=0)
                       == truth).mean()),
                float((nn_lookup(queries, test.images, test.labels, flips=transform.flip,
                                 shift=reach) == truth).mean()),
                float((nn_lookup(queries, train.images, train.labels, flips=False, shift=0)
                       == truth).mean()),
                a1_accuracy(hidden, test.labels),
                a2_accuracy(hidden, test.labels),
            ]  # fmt: skip
            seconds = time.perf_counter() - start
            cells = [f"{v:>11d}" if isinstance(v, int) else f"{v:>11.4f}" for v in row]
            print(f"{name:>17} {seed:>11d} {' '.join(cells)} {seconds:>11.0f}", flush=True)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
