"""helpers.metrics against the obvious alternatives, on the same inputs, in one run.

    python bench/metrics.py [--images 1000] [--batch 16] [--size 224] [--classes 6] [--bins 1000]
                            [--tm-images 16] [--exact-images 16] [--threads 1]

1. Multi-label mAP on 4952 x 20 scores (the VOC 2007 test set's size; 1% of entries ignored,
   like VOC's difficult objects): ``helpers.metrics.mean_average_precision`` against the loop
   over classes of ``sklearn.metrics.average_precision_score`` that the course's kits used, and
   torchmetrics' exact ``multilabel_average_precision``. Median of several runs.
2. Segmentation AP and IoU over ``--images`` images of ``--size``² pixels with ``--classes``
   classes, fed in batches of ``--batch`` as a model's softmax outputs would come:
   ``SegmentationEvaluator`` on every image, against torchmetrics' binned
   ``MulticlassAveragePrecision`` (same thresholds) plus ``MulticlassJaccardIndex`` on the first
   ``--tm-images`` images (it is slow; its time is scaled to the full set), and against exact
   scikit-learn AP (every pixel sorted) on the first ``--exact-images`` images, where the largest
   AP difference is reported.
3. Peak extra memory of the segmentation evaluators, measured in a child process whose glibc
   returns freed memory to the system at once (``MALLOC_MMAP_THRESHOLD_``), so that the peak
   resident set size (VmHWM, reset before each update) minus the resident size before the update
   is what the update itself needed. Linux only.

Times are wall-clock seconds and the process's CPU seconds (all threads); on a shared machine the
CPU seconds are the steadier figure. Speed-ups are given for both. The outputs are Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.metrics import SegmentationEvaluator, mean_average_precision  # noqa: E402

IGNORE = 255


# --- inputs ------------------------------------------------------------------------------------


def multilabel_inputs(n: int = 4952, classes: int = 20, seed: int = 0):
    """(scores float32 [n, C] logits, targets int64 [n, C] of 1 / 0 / -1), VOC-like rates."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.02, 0.2, size=classes)  # VOC classes hold 2% (sofa) to 40% (person)
    targets = (rng.random((n, classes)) < rates).astype(np.int64)
    scores = (2.5 * targets + rng.normal(0.0, 1.0, size=(n, classes))).astype(np.float32)
    targets[rng.random((n, classes)) < 0.01] = -1
    return scores, targets


def segmentation_batch(index: int, batch: int, classes: int, size: int, seed: int = 0):
    """Batch number ``index``: (probabilities float32 [B, C, H, W], masks uint8 [B, H, W]).

    Deterministic per index, so any subset can be regenerated exactly. Masks: background and a
    few ellipses of other classes with 255 on a 2-pixel border (as VOC marks edges). Scores: the
    softmax of the true class raised, smooth noise (a model errs in blobs) and pixel noise, tuned
    to a fair model's scores (the bench prints the set's mAP and mIoU).
    """
    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(batch, size, size, dtype=torch.uint8)
    for image in range(batch):
        for _ in range(int(torch.randint(1, 5, (1,), generator=g))):
            cy, cx = (torch.rand(2, generator=g) * size).tolist()
            ry, rx = (torch.rand(2, generator=g) * size / 4 + size / 16).tolist()
            radius = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2
            cls = int(torch.randint(1, classes, (1,), generator=g))
            masks[image][radius <= (1 + 4 / min(ry, rx)) ** 2] = IGNORE
            masks[image][radius <= 1] = cls
    truth = F.one_hot(masks.long().clamp(max=classes - 1), classes).permute(0, 3, 1, 2).float()
    low = torch.randn(batch, classes, 7, 7, generator=g)
    smooth = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    logits = 3.0 * truth + 1.2 * smooth + 0.8 * torch.randn(batch, classes, size, size, generator=g)
    return torch.softmax(logits, dim=1), masks


def batches(images: int, batch: int, classes: int, size: int):
    for index, start in enumerate(range(0, images, batch)):
        yield segmentation_batch(index, min(batch, images - start), classes, size)


# --- timing helpers ----------------------------------------------------------------------------


class Clock:
    """Accumulates wall-clock and CPU seconds over the blocks it times."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def median_clock(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls (after one warm-up), and the result."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        with Clock() as clock:
            fn()
        walls.append(clock.wall)
        cpus.append(clock.cpu)
    return statistics.median(walls), statistics.median(cpus), result


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *[line(r) for r in rows]])


# --- 1. multi-label mAP ------------------------------------------------------------------------


def bench_multilabel(repeats: int) -> str:
    from sklearn.metrics import average_precision_score
    from torchmetrics.functional.classification import multilabel_average_precision

    scores, targets = multilabel_inputs()
    n, classes = scores.shape

    def sklearn_loop():
        aps = []
        for c in range(classes):
            keep = targets[:, c] >= 0
            aps.append(average_precision_score(targets[keep, c], scores[keep, c]))
        return aps

    def torchmetrics_exact():
        return multilabel_average_precision(
            torch.from_numpy(scores), torch.from_numpy(targets), num_labels=classes,
            average="none", thresholds=None, ignore_index=-1,
        )  # fmt: skip

    def ours():
        return mean_average_precision(scores, targets)

    from helpers.metrics import average_precision

    reference = np.array(sklearn_loop())
    ours_per_class = average_precision(scores, targets).numpy()
    tm_per_class = torchmetrics_exact().double().numpy()
    rows = []
    runs = [
        ("scikit-learn average_precision_score, loop over classes", sklearn_loop, reference),
        ("torchmetrics multilabel_average_precision (exact)", torchmetrics_exact, tm_per_class),
        ("helpers.metrics.mean_average_precision", ours, ours_per_class),
    ]
    timed = [(name, *median_clock(fn, repeats)[:2], values) for name, fn, values in runs]
    base_wall, base_cpu = timed[0][1], timed[0][2]
    for name, wall, cpu, values in timed:
        rows.append([
            name, f"{wall * 1e3:.2f}", f"{cpu * 1e3:.2f}", f"{base_wall / wall:.1f}x",
            f"{base_cpu / cpu:.1f}x", f"{np.abs(values - reference).max():.1e}",
        ])  # fmt: skip
    header = ["method", "wall ms", "CPU ms", "speed-up (wall)", "speed-up (CPU)",
              "max |AP - sklearn|"]  # fmt: skip
    title = (
        f"Multi-label mAP, {n} x {classes} float32 scores, 1% of entries ignored "
        f"(median of {repeats} runs; mAP = {np.nanmean(ours_per_class):.4f})"
    )
    return title + "\n\n" + table(header, rows)


# --- 2. segmentation ---------------------------------------------------------------------------


def run_ours(images, batch, classes, size, bins, clock, scores="probabilities"):
    """SegmentationEvaluator over the set; with scores="logits" it gets log-probabilities (valid
    logits of the same softmax) and applies the softmax itself, as with a model's raw outputs."""
    evaluator = SegmentationEvaluator(classes, ignore_index=IGNORE, bins=bins, scores=scores)
    for probabilities, masks in batches(images, batch, classes, size):
        outputs = probabilities if scores == "probabilities" else torch.log(probabilities)
        with clock:
            evaluator.update(outputs, masks)
    with clock:
        return evaluator.compute()


def run_torchmetrics(images, batch, classes, size, bins, clock):
    from torchmetrics.classification import MulticlassAveragePrecision, MulticlassJaccardIndex

    thresholds = torch.linspace(0, 1, bins, dtype=torch.float64)  # the evaluator's bins exactly
    ap = MulticlassAveragePrecision(classes, thresholds=thresholds, average="none",
                                    ignore_index=IGNORE)  # fmt: skip
    iou = MulticlassJaccardIndex(classes, average="none", ignore_index=IGNORE)
    for probabilities, masks in batches(images, batch, classes, size):
        with clock:
            ap.update(probabilities, masks.long())
            iou.update(probabilities, masks.long())
    with clock:
        return ap.compute().double(), iou.compute().double()


def run_sklearn_exact(parts, classes, clock):
    """Exact AP per class with scikit-learn over the (probabilities, masks) batches ``parts``."""
    from sklearn.metrics import average_precision_score

    with clock:
        probabilities = torch.cat([p for p, _ in parts]).permute(0, 2, 3, 1).reshape(-1, classes)
        labels = torch.cat([m for _, m in parts]).flatten().numpy()
        keep = labels != IGNORE
        probabilities, labels = probabilities.numpy()[keep], labels[keep]
        return torch.tensor(
            [average_precision_score(labels == c, probabilities[:, c]) for c in range(classes)],
            dtype=torch.float64,
        )


def run_ours_exact(parts, classes, clock):
    """SegmentationEvaluator(bins=None) over the batches ``parts``."""
    evaluator = SegmentationEvaluator(classes, bins=None, scores="probabilities")
    with clock:
        for probabilities, masks in parts:
            evaluator.update(probabilities, masks)
        return evaluator.compute()


def bench_segmentation(args, memory: dict) -> str:
    images, batch, classes, size, bins = args.images, args.batch, args.classes, args.size, args.bins
    rows = []
    full, full_logits = Clock(), Clock()
    ours_full = run_ours(images, batch, classes, size, bins, full)
    ours_logits = run_ours(images, batch, classes, size, bins, full_logits, scores="logits")

    tm_clock = Clock()
    tm_ap, tm_iou = run_torchmetrics(args.tm_images, batch, classes, size, bins, tm_clock)
    ours_tm_subset = run_ours(args.tm_images, batch, classes, size, bins, Clock())
    subset = list(batches(args.exact_images, batch, classes, size))
    sk_clock, exact_clock = Clock(), Clock()
    sk_ap = run_sklearn_exact(subset, classes, sk_clock)
    ours_exact = run_ours_exact(subset, classes, exact_clock)
    del subset
    ours_sk_subset = run_ours(args.exact_images, batch, classes, size, bins, Clock())

    scale = lambda n: images / n  # noqa: E731
    base_wall, base_cpu = full.wall, full.cpu

    def row(name, timed, clock, diff_ap, diff_iou, mem):
        wall, cpu = clock.wall * scale(timed), clock.cpu * scale(timed)
        rows.append([
            name, str(timed), f"{wall:.3g}", f"{cpu:.3g}", f"{wall / base_wall:.0f}x",
            f"{cpu / base_cpu:.0f}x", diff_ap, diff_iou, mem,
        ])  # fmt: skip

    mb = lambda key: f"{memory[key] / 1e6:.0f} MB" if key in memory else "n/a"  # noqa: E731
    row(
        f"torchmetrics MulticlassAveragePrecision(thresholds={bins}) + MulticlassJaccardIndex",
        args.tm_images, tm_clock,
        f"{(ours_tm_subset.ap - tm_ap).abs().max():.1e}",
        f"{(ours_tm_subset.iou - tm_iou).abs().max():.1e}", mb("torchmetrics"),
    )  # fmt: skip
    row(
        "scikit-learn average_precision_score per class (exact: sorts every pixel)",
        args.exact_images, sk_clock, f"{(ours_sk_subset.ap - sk_ap).abs().max():.1e}", "",
        mb("sklearn"),
    )  # fmt: skip
    row(
        "helpers SegmentationEvaluator(bins=None) (exact)", args.exact_images, exact_clock,
        f"{(ours_exact.ap - sk_ap).abs().max():.1e}", "", mb("exact"),
    )  # fmt: skip
    row(
        f"helpers SegmentationEvaluator(bins={bins}, scores='logits')", images, full_logits,
        f"{(ours_logits.ap - ours_full.ap).abs().max():.1e}",
        f"{(ours_logits.iou - ours_full.iou).abs().max():.1e}", mb("ours_logits"),
    )  # fmt: skip
    row(f"helpers SegmentationEvaluator(bins={bins})", images, full, "", "", mb("ours"))
    header = [
        "method", "images timed", f"wall s per {images}", f"CPU s per {images}",
        "slower (wall)", "slower (CPU)", "max |AP diff|", "max |IoU diff|", "peak extra memory",
    ]  # fmt: skip
    title = (
        f"Segmentation AP + IoU, {images} images {size}x{size}, {classes} classes, batches of "
        f"{batch}, probabilities in (full set: mAP {ours_full.mean_ap:.4f}, mIoU "
        f"{ours_full.mean_iou:.4f}).\nTimes of subsets are scaled linearly to {images} images. "
        "'max diff': against helpers' binned evaluator on the same subset (exact rows: against "
        "scikit-learn; logits row: against the probabilities row)."
    )
    return title + "\n\n" + table(header, rows)


# --- 3. memory (child process) -----------------------------------------------------------------


def _rss(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", text).group(1)) * 1024


def _peak_during(fn) -> int:
    """Bytes the peak resident size rose above the current resident size while fn() ran."""
    before = _rss("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    fn()
    return _rss("VmHWM") - before


def memory_probe(args) -> dict:
    from torchmetrics.classification import MulticlassAveragePrecision

    classes, size, batch, bins = args.classes, args.size, args.batch, args.bins
    result = {"ours": 0, "ours_logits": 0, "exact": 0, "torchmetrics": 0, "sklearn": 0}
    evaluator = SegmentationEvaluator(classes, bins=bins, scores="probabilities")
    from_logits = SegmentationEvaluator(classes, bins=bins, scores="logits")
    for probabilities, masks in batches(args.memory_images, batch, classes, size):
        peak = _peak_during(lambda p=probabilities, m=masks: evaluator.update(p, m))
        result["ours"] = max(result["ours"], peak)
        logits = torch.log(probabilities)
        peak = _peak_during(lambda p=logits, m=masks: from_logits.update(p, m))
        result["ours_logits"] = max(result["ours_logits"], peak)
        del logits
    result["ours"] = max(result["ours"], _peak_during(evaluator.compute))
    result["ours_logits"] = max(result["ours_logits"], _peak_during(from_logits.compute))

    probabilities, masks = segmentation_batch(0, batch, classes, size)
    thresholds = torch.linspace(0, 1, bins, dtype=torch.float64)
    metric = MulticlassAveragePrecision(classes, thresholds=thresholds, average="none",
                                        ignore_index=IGNORE)  # fmt: skip
    result["torchmetrics"] = _peak_during(lambda: metric.update(probabilities, masks.long()))

    subset = list(batches(args.exact_images, batch, classes, size))
    result["exact"] = _peak_during(lambda: run_ours_exact(subset, classes, Clock()))
    result["sklearn"] = _peak_during(lambda: run_sklearn_exact(subset, classes, Clock()))
    return result


def measure_memory(args) -> dict:
    if platform.system() != "Linux":
        return {}
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    command = [sys.executable, __file__, "--memory-probe", *sys.argv[1:]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="segmentation test-set size")
    parser.add_argument("--batch", type=int, default=16, help="images per update")
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    parser.add_argument("--classes", type=int, default=6, help="segmentation classes")
    parser.add_argument("--bins", type=int, default=1000, help="AP bins (torchmetrics thresholds)")
    parser.add_argument("--tm-images", type=int, default=16, help="images given to torchmetrics")
    parser.add_argument("--exact-images", type=int, default=16, help="images for exact AP")
    parser.add_argument("--memory-images", type=int, default=None,
                        help="images streamed in the memory probe (default: --images)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=7, help="runs of each mAP timing")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: steadier on a shared machine; "
                        "scikit-learn's AP is single-threaded too)")  # fmt: skip
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.memory_images = args.memory_images or args.images
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(json.dumps(memory_probe(args)))
        return

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"helpers.metrics benchmark: torch {torch.__version__}, {args.threads} torch thread(s), "
        f"{os.cpu_count()} CPUs ({cpu}), load average {load:.1f} at start\n"
    )
    print(bench_multilabel(args.repeats), end="\n\n", flush=True)
    memory = measure_memory(args)
    print(bench_segmentation(args, memory))
    print(
        "\nPeak extra memory: peak resident set size (VmHWM) minus resident size before the call, "
        "in a child process with MALLOC_MMAP_THRESHOLD_=65536 so that freed memory leaves at once; "
        f"helpers' binned evaluator: the largest over all {args.memory_images} images' updates "
        f"and compute; torchmetrics: one update of {args.batch} images; exact rows: all "
        f"{args.exact_images} images' updates and compute. Input batches are never counted."
    )


if __name__ == "__main__":
    main()
