"""Write ``source/a2_cnn_fashion/a2_cnn_fashion.ipynb``, the instructor notebook of a2.

    .venv/bin/python assignments/a2_cnn_fashion/make_source.py
    .venv/bin/nbgrader generate_assignment a2_cnn_fashion     # then refresh the release

The notebook is written from this script so that it can be reviewed as code and rebuilt
exactly. Each code cell carries its nbgrader metadata (``grade_id``, ``solution``, ``grade``,
``locked``, ``points``); the first code cell is papermill's ``parameters`` cell. The improved
network's class is read from ``reference/improved_net.py``, the file the reference weights were
trained from, so the notebook's class and the weights cannot drift apart.
"""

# ruff: noqa: E501 - the cells' code lives in strings indented 8 columns deeper than in the notebook

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NAME = "a2_cnn_fashion"
OUT = ROOT / "source" / NAME / f"{NAME}.ipynb"


def _text(source: str) -> str:
    return textwrap.dedent(source).strip("\n")


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def md(source: str):
    """Instructions: plain markdown, no nbgrader role."""
    return new_markdown_cell(_text(source))


def locked(grade_id: str, source: str, tags: tuple[str, ...] = ()):
    """Set-up and glue the student must not change (restored from the source at grading)."""
    cell = new_code_cell(_text(source))
    cell.metadata["nbgrader"] = _nbgrader(grade_id, locked=True)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def answer(grade_id: str, source: str):
    """The student's code: the solution between BEGIN/END SOLUTION is cleared in the release."""
    cell = new_code_cell(_text(source))
    cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True)
    return cell


def editable(grade_id: str, source: str):
    """Settings the student may change; no nbgrader role, so the release keeps the cell as is."""
    cell = new_code_cell(_text(source))
    cell.metadata["nbgrader"] = _nbgrader(grade_id)
    return cell


def test(grade_id: str, points: float, source: str):
    """An autograded test: a visible part, and a hidden part that records results."""
    cell = new_code_cell(_text(source))
    cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, locked=True, points=points)
    return cell


def improved_net_source() -> str:
    """The class of ``reference/improved_net.py``, from its ``class`` line to the end."""
    text = (HERE / "reference" / "improved_net.py").read_text()
    return text[text.index("class ImprovedNet") :].strip("\n")


CELLS = [
    md(
        """
        # Assignment 2: convolutional networks on Fashion-MNIST

        You will train a small convolutional network (`BaseNet`), make it much better, study what
        each design choice of a 5-layer CNN does, and see what a CNN learns by changing the task
        (3 classes) and the images (scrambled tiles).

        **What you hand in**

        1. this notebook, run top to bottom;
        2. `improved_net.pt`, the weights of your improved network (this notebook writes it);
        3. your report (`report_template.md` beside the handout): the plots, tables and answers
           the **Report** boxes below ask for.

        **How it is graded**

        - The test cells (*"Tests: ..."*) are autograded: each checks your function on inputs you
          do not see and earns its points when it runs and its results match the solution's.
        - **Performance**: your improved network's accuracy on a hidden test set of
          Fashion-MNIST images. 70% or less earns 0 points, 90% or more full points, linear in
          between.
        - The autograder runs this notebook on a CPU with `GRADING = True`, within 10 minutes in
          total. **It does not train**: the training cells are skipped and your network is loaded
          from `improved_net.pt`. So keep long work inside `if not GRADING:` blocks as the given
          cells do, and make sure `ImprovedNet()` (no arguments) builds the network whose
          weights you submit.

        **Notation.** `N` images in a batch, `C` channels, `H = W = 28` pixels, `K` classes
        (10 for Fashion-MNIST, 3 in part 3). Images reach a network as float32 `(N, 1, 28, 28)`,
        normalised with `MEAN` and `STD`; labels are int64 `(N,)`; a network returns float32
        logits `(N, K)` (use `nn.CrossEntropyLoss`, which applies the softmax itself).

        A GPU helps (Colab or the course machines) but is not needed: everything runs on a
        laptop's CPU, more slowly, and the long training cells print how long they took.
        """
    ),
    locked(
        "parameters",
        """
        # Parameters: the autograder replaces these values (papermill's "parameters" cell).
        GRADING = False  # True while the autograder runs the notebook
        DEVICE = "auto"  # "auto" picks a GPU when there is one; "cpu" or "cuda" to choose
        DATA_DIR = None  # the hidden test images, under the autograder only
        OUTPUT_DIR = "outputs"  # where prediction files go
        SEED = 0
        """,
        tags=("parameters",),
    ),
    locked(
        "setup",
        """
        import time
        from pathlib import Path

        import matplotlib.pyplot as plt
        import numpy as np
        import torch
        from torch import nn

        from autograder.record import grading_input, record
        from helpers.data import (
            CLASSES,
            THREE_CLASS_OF,
            THREE_CLASSES,
            InMemoryLoader,
            LabelledImages,
            fashion_mnist,
            random_flip,
            random_shift,
            scramble,
            to_three_classes,
            train_val_split,
        )
        from helpers.experiments import ExperimentLog, ablation_table
        from helpers.metrics import Accuracy, accuracy, per_class_accuracy
        from helpers.models import BaseNet
        from helpers.plots import plot_confusion_matrix, plot_history, plot_image_grid, plot_per_class
        from helpers.predictions import save_predictions
        from helpers.train import fit, pick_device, predict, seed_everything

        seed_everything(SEED)
        device = pick_device(DEVICE)
        print(f"Training on {device}; torch uses {torch.get_num_threads()} CPU threads.")
        """,
    ),
    md(
        """
        ## Data

        `fashion_mnist(split)` returns `LabelledImages`: `images` uint8 `(N, 28, 28)` with values
        0..255 and `labels` int64 `(N,)` in 0..9 (`CLASSES[k]` names label `k`). We keep 10% of
        the training images for validation (the same split for everyone: `seed=0`) and use the
        test split only to report final numbers.

        `make_loader` wraps a set in an `InMemoryLoader`: batches of float32 `(B, 1, 28, 28)`
        images normalised with `MEAN`, `STD`, and int64 `(B,)` labels, already on `device`.
        """
    ),
    locked(
        "data",
        """
        MEAN, STD = (0.286,), (0.353,)  # Fashion-MNIST's pixel mean and standard deviation in [0, 1]

        full_train = fashion_mnist("train")
        train_set, val_set = train_val_split(full_train, val_size=0.1, seed=0)
        # The grader hides the public test split (its hidden set is drawn from it): the checks
        # below then use the validation images.
        test_set = val_set if GRADING else fashion_mnist("test")


        def make_loader(data, *, train=False, batch_size=256, augment=None, labels=None):
            \"\"\"An InMemoryLoader over `data` (LabelledImages): shuffled and augmented when `train`.

            `labels` (int64 (N,)) replaces data.labels, e.g. for the 3-class task.
            \"\"\"
            return InMemoryLoader(
                data.images,
                data.labels if labels is None else labels,
                batch_size=batch_size,
                shuffle=train,
                device=device,
                mean=MEAN,
                std=STD,
                augment=augment if train else None,
                seed=SEED,
            )


        print(f"train {len(train_set)}, validation {len(val_set)}, test {len(test_set)} images")
        if not GRADING:
            plot_image_grid(train_set.images[:16], train_set.labels[:16], class_names=CLASSES)
            plt.show()
        """,
    ),
    md(
        """
        ## Part 1: BaseNet, then a better network

        ### 1.1 How big is a feature map?

        `BaseNet` (in `helpers/models/base_net.py`) is two 5x5 convolutions, each followed by ReLU
        and 2x2 max pooling, then two fully connected layers. Its first fully connected layer
        must know how many numbers the convolutions leave: 12 channels of 4x4. Write the formula
        that gives such sizes.
        """
    ),
    answer(
        "conv_output_size",
        """
        def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
            \"\"\"Height (or width) of the output of a convolution or pooling layer.

            Args:
                size: the input's height, an int, or an int64 array (M,) of heights.
                kernel_size, stride, padding, dilation: ints, or int64 arrays (M,), as
                    nn.Conv2d and nn.MaxPool2d take them (padding on each side).

            Returns:
                An int, or an int64 array (M,) when any argument is an array.

            Hint: the "Shape" section of torch.nn.Conv2d's documentation. One line; use
            integer division `//` (it rounds down, as the layers do), not math.floor, so that
            it also works on arrays.
            \"\"\"
            out = None
            ### BEGIN SOLUTION
            out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
            ### END SOLUTION
            return out
        """,
    ),
    test(
        "test_conv_output_size",
        1,
        """
        # Tests: conv_output_size (1 point)
        assert conv_output_size(28, 5) == 24, "a 5x5 convolution without padding: 28 -> 24"
        assert conv_output_size(24, 2, stride=2) == 12, "2x2 max pooling halves 24 to 12"
        for size, k, s, p, d in [(28, 3, 1, 1, 1), (28, 5, 2, 2, 1), (13, 3, 2, 0, 2)]:
            expected = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, size, size))
            assert conv_output_size(size, k, s, p, d) == expected.shape[-1], (size, k, s, p, d)
        sizes = conv_output_size(np.array([28, 14, 7]), 3, padding=np.array([0, 1, 1]))
        assert np.array_equal(sizes, [26, 14, 7]), f"arrays in, array out; got {sizes}"
        # BaseNet: 28 -conv 5-> 24 -pool-> 12 -conv 5-> 8 -pool-> 4, so 12 * 4 * 4 = 192 features
        side = conv_output_size(conv_output_size(conv_output_size(conv_output_size(28, 5), 2, 2), 5), 2, 2)
        assert 12 * side * side == BaseNet().classifier[0].in_features
        print("conv_output_size: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        params = grading_input("conv_params")  # int64 (M, 5): size, kernel, stride, padding, dilation
        record("conv_output_size", np.asarray(conv_output_size(*params.T)).astype(np.int64), atol=0)
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        ### 1.2 One training step

        `helpers.train.fit` trains a network for many epochs, but each of its steps is the four
        lines you write here. (Read `fit` in `helpers/train.py` once: it is plain PyTorch.)
        """
    ),
    answer(
        "training_step",
        """
        def training_step(model, images, labels, optimizer, loss_fn):
            \"\"\"One step of gradient descent on one batch.

            Args:
                model: an nn.Module in training mode.
                images: float32 (B, 1, 28, 28) on the model's device.
                labels: int64 (B,) class indices on the same device.
                optimizer: a torch.optim optimizer over model.parameters().
                loss_fn: loss_fn(logits (B, K), labels (B,)) -> the batch's mean loss, a 0-d tensor.

            Returns:
                The batch's loss before the update, as a Python float.

            About 5 lines: clear old gradients, compute the loss, backpropagate, update.
            Hint: gradients add up in .grad until cleared; .item() turns a 0-d tensor into a float.
            \"\"\"
            loss_value = None
            ### BEGIN SOLUTION
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            loss_value = loss.item()
            ### END SOLUTION
            return loss_value
        """,
    ),
    test(
        "test_training_step",
        2,
        """
        # Tests: training_step (2 points)
        torch.manual_seed(0)
        _net = BaseNet()
        _opt = torch.optim.SGD(_net.parameters(), lr=0.1, momentum=0.9)
        _x, _y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
        _losses = [training_step(_net, _x, _y, _opt, nn.CrossEntropyLoss()) for _ in range(20)]
        assert all(isinstance(v, float) for v in _losses), "return loss.item(), a Python float"
        assert _losses[-1] < 0.5 * _losses[0], f"the loss on one batch should fall: {_losses[::5]}"
        print(f"training_step: loss on one batch {_losses[0]:.3f} -> {_losses[-1]:.3f}. Passed.")
        ### BEGIN HIDDEN TESTS
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(1234)
        _hidden_net = BaseNet()
        _hidden_opt = torch.optim.SGD(_hidden_net.parameters(), lr=0.1, momentum=0.9)
        _x = torch.from_numpy(grading_input("step_images"))
        _y = torch.from_numpy(grading_input("step_labels"))
        _losses = [training_step(_hidden_net, _x, _y, _hidden_opt, nn.CrossEntropyLoss()) for _ in range(3)]
        record("training_step.losses", np.array(_losses), rtol=1e-4, atol=1e-5)
        record("training_step.fc_weight", _hidden_net.classifier[2].weight.detach(), rtol=1e-3, atol=1e-5)
        torch.use_deterministic_algorithms(False)
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        ### 1.3 Train BaseNet

        The cell below trains `BaseNet` with plain SGD (learning rate 0.001, momentum 0.9,
        batches of 64) for 3 epochs. Its validation accuracy stays low (in our run 70.2% after
        one epoch, 77.2% after three): the network is tiny and the optimiser slow. `fit` returns a `History` (one row per epoch) and appends the
        run to an `ExperimentLog` file; `plot_history` draws the curves.
        """
    ),
    locked(
        "train_base_net",
        """
        BASE_EPOCHS = 3
        seed_everything(SEED)  # the same initial weights, whatever ran before
        base_net = BaseNet()
        if not GRADING:
            start = time.perf_counter()
            base_history = fit(
                base_net,
                make_loader(train_set, train=True, batch_size=64),
                make_loader(val_set),
                loss_fn=nn.CrossEntropyLoss(),
                optimizer=torch.optim.SGD(base_net.parameters(), lr=0.001, momentum=0.9),
                epochs=BASE_EPOCHS,
                metrics={"accuracy": Accuracy()},
                device=device,
                log="experiments_base.jsonl",
                run_name="BaseNet",
                config={"model": "BaseNet", "optimizer": "SGD", "lr": 0.001},
            )
            print(f"{time.perf_counter() - start:.0f} s; best validation accuracy "
                  f"{base_history.best('val_accuracy')['val_accuracy']:.3f}")
            plot_history(base_history, ["loss", "accuracy"], label="BaseNet")
            plt.show()
        """,
    ),
    md(
        """
        ### 1.4 Per-class accuracy

        One number hides which classes fail. Write the per-class accuracy: for each true class,
        the fraction of its images predicted right (the diagonal of the confusion matrix divided
        by its row sums).
        """
    ),
    answer(
        "class_accuracies",
        """
        def class_accuracies(predicted, labels, num_classes):
            \"\"\"Accuracy of each true class.

            Args:
                predicted: int64 array (N,), predicted classes in 0..num_classes-1.
                labels: int64 array (N,), true classes in 0..num_classes-1.
                num_classes: K.

            Returns:
                float64 array (K,): entry k is the fraction of the images of class k that were
                predicted as k; NaN for a class with no image in `labels`.

            No loop over N (a loop over the K classes is fine); about 4 lines.
            Hint: np.bincount(..., minlength=K) counts each class; dividing by 0 gives NaN
            (np.errstate can silence the warning about it).
            \"\"\"
            result = np.full(num_classes, np.nan)
            ### BEGIN SOLUTION
            predicted, labels = np.asarray(predicted), np.asarray(labels)
            totals = np.bincount(labels, minlength=num_classes)
            correct = np.bincount(labels[predicted == labels], minlength=num_classes)
            with np.errstate(invalid="ignore"):
                result = correct / totals
            ### END SOLUTION
            return result
        """,
    ),
    test(
        "test_class_accuracies",
        1,
        """
        # Tests: class_accuracies (1 point)
        _acc = class_accuracies(np.array([0, 1, 1, 1]), np.array([0, 0, 1, 1]), 3)
        assert _acc.shape == (3,) and _acc.dtype == np.float64, (_acc.shape, _acc.dtype)
        assert np.allclose(_acc[:2], [0.5, 1.0]) and np.isnan(_acc[2]), _acc
        _rng = np.random.default_rng(0)
        _p, _t = _rng.integers(0, 10, 500), _rng.integers(0, 10, 500)
        assert np.allclose(class_accuracies(_p, _t, 10), per_class_accuracy(_p, _t, 10).numpy())
        print("class_accuracies: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        _acc = class_accuracies(grading_input("class_predicted"), grading_input("class_labels"), 8)
        # NaN where a class has no image (the grader compares NaN with NaN as equal).
        record("class_accuracies.values", np.asarray(_acc, np.float64), rtol=1e-9, atol=1e-12)
        ### END HIDDEN TESTS
        """,
    ),
    locked(
        "base_net_per_class",
        """
        if not GRADING:
            val_scores, val_labels = predict(base_net, make_loader(val_set), return_targets=True)
            base_per_class = class_accuracies(val_scores.argmax(1).numpy(), val_labels.numpy(), 10)
            for name, value in zip(CLASSES, base_per_class):
                print(f"{name:>12}: {value:.3f}")
            fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
            plot_per_class(base_per_class, CLASSES, ylabel="accuracy", title="BaseNet, validation", ax=left)
            plot_confusion_matrix(targets=val_labels, predictions=val_scores, class_names=CLASSES,
                                  normalize=True, ax=right)
            plt.show()
        """,
    ),
    md(
        """
        > **Report (1.3-1.4).** Include the loss and accuracy curves and the per-class plot of
        > BaseNet. In at least three sentences: does BaseNet underfit or overfit, and what in the
        > curves tells you? Which classes does it confuse most often with which (read the
        > confusion matrix), and why might those be hard to tell apart at 28x28 pixels?

        ### 1.5 An improved network: at least 90% on the test set

        Write `ImprovedNet` and its training recipe. Ideas, roughly in the order they pay off:
        batch normalisation after each convolution; more channels (wider convolutions); a third
        convolution block; an extra fully connected layer; dropout before the fully connected
        layers; a better optimiser and schedule (AdamW, `OneCycleLR`); light data augmentation
        (`random_flip`, `random_shift` from `helpers.data`, passed to `make_loader(...,
        augment=[...])`). Keep it compact: the reference solution (164,402 parameters) reaches
        92.55% test accuracy after 13 epochs, which took 4 minutes on an idle 2-core machine
        (237 s wall, 472 s of CPU time).

        Rules:

        - give each option you try a keyword argument whose **default is your final choice**:
          `ImprovedNet()` must build the network whose weights you submit (the autograder calls
          exactly that), and `ImprovedNet(num_classes=3)` is used in part 3;
        - input float32 `(N, 1, 28, 28)` normalised with `MEAN`, `STD`; output float32 logits
          `(N, num_classes)`.

        A skeleton to start from (BaseNet's own code is a good model):

        ```python
        class ImprovedNet(nn.Module):
            def __init__(self, num_classes=10, dropout=0.3, batch_norm=True):  # your options
                super().__init__()
                self.features = ...    # layers: (N, 1, 28, 28) -> (N, C', H', W')
                self.classifier = ...  # layers: -> (N, num_classes)

            def forward(self, x):
                return self.classifier(self.features(x))
        ```
        """
    ),
    locked(
        "improved_net_placeholder",
        """
        class ImprovedNet(nn.Module):
            \"\"\"A stand-in until you write ImprovedNet in the next cell (which replaces it).\"\"\"

            def __init__(self, *args, **kwargs):
                raise NotImplementedError("Write ImprovedNet in the cell below this one.")
        """,
    ),
    answer("improved_net", improved_net_source()),
    test(
        "test_improved_net",
        1,
        """
        # Tests: ImprovedNet's shapes (1 point)
        _net = ImprovedNet().eval()
        _out = _net(torch.zeros(5, 1, 28, 28))
        assert tuple(_out.shape) == (5, 10), f"ImprovedNet() should give (5, 10) logits, got {tuple(_out.shape)}"
        assert tuple(ImprovedNet(num_classes=3).eval()(torch.zeros(2, 1, 28, 28)).shape) == (2, 3)
        print(f"ImprovedNet: {sum(p.numel() for p in _net.parameters()):,} parameters. Passed.")
        ### BEGIN HIDDEN TESTS
        _classes = int(grading_input("improved_classes"))  # drawn per submission, 2..15
        with torch.no_grad():
            _out = ImprovedNet(num_classes=_classes).eval()(torch.from_numpy(grading_input("improved_images")))
        record("improved_net.shape", np.array(_out.shape), atol=0)
        record("improved_net.finite", torch.isfinite(_out).numpy())  # (N, classes), all True
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        Now the recipe. `train_improved` trains a model on a `LabelledImages` set and returns
        `fit`'s `History`; the same function trains your final network, the ablation runs below
        and the 3-class network of part 3, so give it an `epochs` argument.
        """
    ),
    answer(
        "train_improved",
        """
        def train_improved(model, train_data, val_data, *, epochs=13, log=None, run_name=None, config=None):
            \"\"\"Train `model` with your recipe and return the History that `fit` returns.

            Args:
                model: an nn.Module (e.g. ImprovedNet()), trained in place.
                train_data, val_data: LabelledImages (images uint8 (N, 28, 28), labels int64 (N,)).
                epochs: how many epochs.
                log, run_name, config: passed on to fit() so the run lands in the experiment log
                    (config: the settings that differ between ablation runs, e.g. {"dropout": 0}).

            Returns:
                helpers.history.History, one row per epoch with val_accuracy.

            About 10 lines: the loaders (make_loader, with augmentation for training), an
            optimiser, a scheduler if you like, then one call to fit(...) with
            metrics={"accuracy": Accuracy()} and monitor="val_accuracy".
            \"\"\"
            history = None
            ### BEGIN SOLUTION
            train_loader = make_loader(train_data, train=True, augment=[random_flip])
            val_loader = make_loader(val_data)
            max_lr = 4e-3
            optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=5e-4)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=len(train_loader)
            )
            history = fit(model, train_loader, val_loader,
                loss_fn=nn.CrossEntropyLoss(label_smoothing=0.1),
                optimizer=optimizer, epochs=epochs, scheduler=scheduler, scheduler_step="batch",
                metrics={"accuracy": Accuracy()}, monitor="val_accuracy", train_metrics=False,
                device=device, log=log, run_name=run_name, config=config,
            )
            ### END SOLUTION
            return history
        """,
    ),
    md(
        """
        The next cell trains your final network once and saves `improved_net.pt`; later runs
        load the file instead (set `RETRAIN = True` to train again). Under the autograder it only
        loads the file, so **submit `improved_net.pt` with the notebook**.
        """
    ),
    locked(
        "train_improved_net",
        """
        RETRAIN = False
        IMPROVED_WEIGHTS = Path("improved_net.pt")
        improved = None  # stays None until ImprovedNet is written
        improved = ImprovedNet()
        if GRADING or (IMPROVED_WEIGHTS.is_file() and not RETRAIN):
            improved.load_state_dict(torch.load(IMPROVED_WEIGHTS, map_location="cpu", weights_only=True))
            improved.to(device)
            print(f"Loaded {IMPROVED_WEIGHTS}.")
        else:
            seed_everything(SEED)
            start = time.perf_counter()
            improved_history = train_improved(
                improved, train_set, val_set, log="experiments_improved.jsonl", run_name="final"
            )
            torch.save(improved.state_dict(), IMPROVED_WEIGHTS)
            print(f"Trained in {time.perf_counter() - start:.0f} s; saved {IMPROVED_WEIGHTS} "
                  f"({IMPROVED_WEIGHTS.stat().st_size / 1024:.0f} KiB).")
            plot_history(improved_history, ["loss", "accuracy"], label="ImprovedNet")
            plt.show()
        """,
    ),
    locked(
        "improved_net_test_accuracy",
        """
        if not GRADING and improved is not None:
            test_scores, test_labels = predict(improved, make_loader(test_set), return_targets=True)
            improved_per_class = class_accuracies(test_scores.argmax(1).numpy(), test_labels.numpy(), 10)
            print(f"ImprovedNet test accuracy: {accuracy(test_scores, test_labels):.4f}")
            for name, value in zip(CLASSES, improved_per_class):
                print(f"{name:>12}: {value:.3f}")
            plot_per_class(improved_per_class, CLASSES, ylabel="accuracy", title="ImprovedNet, test")
            plt.show()
        """,
    ),
    md(
        """
        ### 1.6 Ablation: what did each change buy?

        Train variants of your final network that each undo **one** change (no batch norm, no
        extra fully connected layer, narrower convolutions, no dropout, no augmentation, ...),
        each with the same short budget, logged to one `ExperimentLog`, and show
        `ablation_table` (first run = your final network, the baseline of the table). On a CPU
        keep `ABLATION_EPOCHS` small (one epoch of the reference network took about 18 s on an
        idle 2-core machine, 36 s of CPU time).
        """
    ),
    answer(
        "ablation",
        """
        ABLATION_EPOCHS = 2
        ablation_log = ExperimentLog("experiments_ablation.jsonl")
        if not GRADING:
            ablation_log.path.unlink(missing_ok=True)  # start the table afresh on each run
            ### BEGIN SOLUTION
            variants = {
                "final": {},
                "no batch norm": {"batch_norm": False},
                "no extra FC layer": {"hidden": 0},
                "narrow (width 8)": {"width": 8},
                "no dropout": {"dropout": 0.0},
            }
            for run_name, change in variants.items():
                seed_everything(SEED)  # every variant starts from the same random state
                train_improved(ImprovedNet(**change), train_set, val_set, epochs=ABLATION_EPOCHS,
                               log=ablation_log, run_name=run_name, config=change)
            ### END SOLUTION
            display(ablation_table(ablation_log, "val_accuracy"))
        """,
    ),
    md(
        """
        > **Report (1.5-1.6).** Describe your final network (a table of its layers with output
        > shapes and parameter counts) and your recipe, its test accuracy and per-class accuracy
        > plot, and the ablation table. In at least three sentences: which change mattered most,
        > and why do you think so? Which classes are still the hardest, and did the improvement
        > help them as much as the others?

        ## Part 2: a 5-layer CNN study

        Design choices are easier to see in a plain network. `FiveLayerCNN` has four
        convolutions and one fully connected layer (five layers with weights):

        | layer | does | output (for `channels="constant"`, `width=w`, 3x3) |
        |---|---|---|
        | conv 1 | `Conv2d(1, c1, k, padding=k // 2)`, ReLU | `(N, c1, 28, 28)` |
        | conv 2 | `Conv2d(c1, c2, k, padding=k // 2)`, ReLU, pool 2x2 | `(N, c2, 14, 14)` |
        | conv 3 | `Conv2d(c2, c3, k, padding=k // 2)`, ReLU | `(N, c3, 14, 14)` |
        | conv 4 | `Conv2d(c3, c4, k, padding=k // 2)`, ReLU, pool 2x2 | `(N, c4, 7, 7)` |
        | head | flatten to `(N, c4 * 7 * 7)` (or, for `"gap"`, average each channel to `(N, c4)`), then `Linear(D, K)` | `(N, K)` |

        - `pooling`: `"max"` (`nn.MaxPool2d(2)` after conv 2 and conv 4), `"avg"`
          (`nn.AvgPool2d(2)` there), or `"gap"`: max pooling there and a **global average
          pooling** head (`nn.AdaptiveAvgPool2d(1)`) instead of flattening, so `D = c4`.
        - `channels`: `"constant"`, every `c_i = width`; `"double"`, `c_i = width * 2 ** (i - 1)`
          (`w, 2w, 4w, 8w`).
        - Every convolution and the linear layer have biases (PyTorch's default).
        - `self.features` is an `nn.Sequential` from the image to the flattened `(N, D)` vector
          (it ends with `nn.Flatten()`), `self.classifier` the final `nn.Linear(D, num_classes)`;
          `forward(x)` is `self.classifier(self.features(x))`.
        """
    ),
    answer(
        "five_layer_cnn",
        """
        class FiveLayerCNN(nn.Module):
            \"\"\"Four convolutions and one fully connected layer (see the table above).

            Args:
                num_classes: K.
                pooling: "max", "avg" or "gap".
                kernel_size: 3 or 5 (any odd size works; padding = kernel_size // 2 keeps 28x28).
                channels: "constant" or "double".
                width: c1, the first convolution's output channels.

            Input float32 (N, 1, 28, 28); output float32 logits (N, num_classes).
            self.features(x) gives float32 (N, D), D = c4 * 7 * 7, or c4 for "gap".
            About 20 lines. Raise a ValueError naming the valid values for an unknown pooling
            or channels.
            \"\"\"

            def __init__(self, num_classes=10, *, pooling="max", kernel_size=3, channels="constant", width=16):
                super().__init__()
                self.features = None
                self.classifier = None
                ### BEGIN SOLUTION
                if pooling not in ("max", "avg", "gap"):
                    raise ValueError(f"pooling must be 'max', 'avg' or 'gap', not {pooling!r}.")
                if channels not in ("constant", "double"):
                    raise ValueError(f"channels must be 'constant' or 'double', not {channels!r}.")
                c = [width] * 4 if channels == "constant" else [width * 2**i for i in range(4)]
                pool = nn.AvgPool2d if pooling == "avg" else nn.MaxPool2d
                layers, c_in = [], 1
                for i, c_out in enumerate(c):
                    layers += [nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2), nn.ReLU()]
                    if i in (1, 3):
                        layers.append(pool(2))
                    c_in = c_out
                if pooling == "gap":
                    layers.append(nn.AdaptiveAvgPool2d(1))
                layers.append(nn.Flatten())
                self.features = nn.Sequential(*layers)
                d = c[3] if pooling == "gap" else c[3] * 7 * 7
                self.classifier = nn.Linear(d, num_classes)
                ### END SOLUTION

            def forward(self, x):
                return self.classifier(self.features(x))
        """,
    ),
    test(
        "test_five_layer_cnn",
        2,
        """
        # Tests: FiveLayerCNN (2 points)
        def _count(model):
            return sum(p.numel() for p in model.parameters())

        _x = torch.zeros(2, 1, 28, 28)
        _net = FiveLayerCNN(width=8)
        assert tuple(_net(_x).shape) == (2, 10) and tuple(_net.features(_x).shape) == (2, 8 * 7 * 7)
        assert _count(_net) == 80 + 3 * 584 + 3930, f"3x3, constant width 8: {_count(_net)} parameters"
        assert tuple(FiveLayerCNN(pooling="gap", width=8).features(_x).shape) == (2, 8)
        assert any(isinstance(m, nn.AvgPool2d) for m in FiveLayerCNN(pooling="avg").modules())
        for bad in [{"pooling": "min"}, {"channels": "triple"}]:
            try:
                FiveLayerCNN(**bad)
            except ValueError:
                pass
            else:
                raise AssertionError(f"FiveLayerCNN({bad}) should raise a ValueError")
        print("FiveLayerCNN: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        _x = torch.from_numpy(grading_input("five_images"))  # (N, 1, 28, 28), N drawn
        _classes, _width = (int(v) for v in grading_input("five_config"))  # drawn per submission
        for _pool in ("max", "avg", "gap"):
            for _k in (3, 5):
                for _ch in ("constant", "double"):
                    _net = FiveLayerCNN(num_classes=_classes, pooling=_pool, kernel_size=_k, channels=_ch, width=_width)
                    # parameters, features' shape and output shape in one record: together they
                    # differ from one draw to the next.
                    _shapes = [_count(_net), *_net.features(_x).shape, *_net(_x).shape]
                    record(f"five_layer.{_pool}_{_k}_{_ch}", np.array(_shapes), atol=0)
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        ### 2.1 Initialisation

        Write `init_weights`, which re-initialises every `nn.Conv2d` and `nn.Linear` of a model
        (weights as below, biases to zero) and leaves other modules alone:

        - `"random"`: normal with mean 0 and standard deviation 0.01;
        - `"xavier"`: Glorot: variance `2 / (fan_in + fan_out)` (`nn.init.xavier_normal_`);
        - `"he"`: Kaiming, for ReLU, in `fan_in` mode: variance `2 / fan_in`
          (`nn.init.kaiming_normal_(..., nonlinearity="relu")`).

        (fan_in of a convolution is `in_channels * k * k`; of a linear layer, `in_features`.)
        """
    ),
    answer(
        "init_weights",
        """
        def init_weights(model, scheme):
            \"\"\"Re-initialise `model`'s Conv2d and Linear layers in place and return `model`.

            Args:
                model: an nn.Module.
                scheme: "random", "xavier" or "he" (see above).

            Returns:
                The same model.

            Raises:
                ValueError: an unknown scheme; the message lists the three valid names.

            About 10 lines: loop over model.modules(), use torch.nn.init.
            \"\"\"
            ### BEGIN SOLUTION
            if scheme not in ("random", "xavier", "he"):
                raise ValueError(f"scheme must be 'random', 'xavier' or 'he', not {scheme!r}.")
            for module in model.modules():
                if isinstance(module, nn.Conv2d | nn.Linear):
                    if scheme == "random":
                        nn.init.normal_(module.weight, mean=0.0, std=0.01)
                    elif scheme == "xavier":
                        nn.init.xavier_normal_(module.weight)
                    else:
                        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
            ### END SOLUTION
            return model
        """,
    ),
    test(
        "test_init_weights",
        2,
        """
        # Tests: init_weights (2 points)
        _layer = nn.Conv2d(32, 64, 3)  # fan_in 288, fan_out 576
        for _scheme, _std in [("random", 0.01), ("xavier", (2 / (288 + 576)) ** 0.5), ("he", (2 / 288) ** 0.5)]:
            torch.manual_seed(0)
            _model = init_weights(nn.Sequential(_layer, nn.ReLU()), _scheme)
            assert _model is not None, "return the model"
            _w = _layer.weight.detach()
            assert abs(float(_w.std()) / _std - 1) < 0.05, f"{_scheme}: std {float(_w.std()):.4f}, expected {_std:.4f}"
            assert float(_layer.bias.abs().max()) == 0, f"{_scheme}: biases should be zero"
        try:
            init_weights(nn.Linear(2, 2), "lecun")
        except ValueError:
            pass
        else:
            raise AssertionError("init_weights(..., 'lecun') should raise a ValueError")
        print("init_weights: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        _shape = grading_input("init_shape")  # int64 (4,): conv in, conv out, kernel, linear out
        _stds = []
        for _scheme in ("random", "xavier", "he"):
            torch.manual_seed(7)
            _model = nn.Sequential(
                nn.Conv2d(int(_shape[0]), int(_shape[1]), int(_shape[2])), nn.BatchNorm2d(int(_shape[1])),
                nn.Flatten(), nn.Linear(int(_shape[1]), int(_shape[3])),
            )
            init_weights(_model, _scheme)
            _conv, _linear = _model[0].weight.detach(), _model[3].weight.detach()
            for _w in (_conv, _linear):
                assert abs(float(_w.mean())) < 0.2 * float(_w.std()), f"{_scheme}: weights must be centred on 0"
            _stds.append([float(_conv.std()), float(_linear.std())])
            # Biases zeroed, batch norm left as it was (weight 1, bias 0): shapes drawn per submission.
            _kept = torch.cat([_model[0].bias, _model[1].weight, _model[1].bias, _model[3].bias]).detach()
            record(f"init.{_scheme}.kept", _kept.numpy(), atol=0)
        # (3 schemes, conv / linear): 0.01 for random; xavier and he follow the drawn shapes.
        record("init.stds", np.array(_stds), rtol=0.06)
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        ### 2.2 The study

        Each run changes **one** setting of the baseline (max pooling, He initialisation, 3x3
        kernels, constant width 16) and trains for `STUDY_EPOCHS` epochs on
        `STUDY_TRAIN_SIZE` training images (all of them on a GPU; on 2 CPU cores the defaults
        below cost about 16 minutes of CPU time for the seven runs, measured per batch on a
        2-core machine). Change the two numbers if you like; use
        the same for every run.
        """
    ),
    editable(
        "study_settings",
        """
        STUDY_EPOCHS = 2
        STUDY_TRAIN_SIZE = 20_000
        """,
    ),
    locked(
        "five_layer_study",
        """
        STUDY_BASELINE = {"pooling": "max", "init": "he", "kernel_size": 3, "channels": "constant"}
        STUDY_RUNS = {
            "baseline": {},
            "average pooling": {"pooling": "avg"},
            "global average pooling": {"pooling": "gap"},
            "random init (std 0.01)": {"init": "random"},
            "Xavier init": {"init": "xavier"},
            "5x5 kernels": {"kernel_size": 5},
            "doubling channels": {"channels": "double"},
        }
        study_train = train_set.subset(np.arange(min(STUDY_TRAIN_SIZE, len(train_set))))
        study_log = ExperimentLog("experiments_five_layer.jsonl")
        study_models = {}
        if not GRADING:
            study_log.path.unlink(missing_ok=True)
            for run_name, change in STUDY_RUNS.items():
                config = {**STUDY_BASELINE, **change}
                seed_everything(SEED)
                model = FiveLayerCNN(pooling=config["pooling"], kernel_size=config["kernel_size"],
                                     channels=config["channels"])
                init_weights(model, config["init"])
                optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
                start = time.perf_counter()
                fit(model, make_loader(study_train, train=True, batch_size=128), make_loader(val_set),
                    loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=STUDY_EPOCHS,
                    metrics={"accuracy": Accuracy()}, monitor="val_accuracy", device=device,
                    log=study_log, run_name=run_name, config=config)
                parameters = sum(p.numel() for p in model.parameters())
                print(f"{run_name}: {parameters:,} parameters, {time.perf_counter() - start:.0f} s")
                study_models[run_name] = model
            display(ablation_table(study_log, "val_accuracy"))
            fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
            for entry in study_log.runs():
                plot_history(study_log.history(entry["run"]), ["loss", "accuracy"], axes=axes,
                             label=entry["run"])
            plt.show()
        """,
    ),
    md(
        """
        > **Report (2.1-2.2).** Include the study's table and curves. In at least three
        > sentences each: (a) how do max, average and global average pooling compare, and what
        > does the global-average head do to the number of parameters of the classifier?
        > (b) Why does the small random initialisation train slowly (or not at all) in a 5-layer
        > ReLU network, and what do Xavier and He keep constant from layer to layer?
        > (c) What do 5x5 kernels and doubling channels cost (parameters, time) and buy?

        ### 2.3 CNN features, MLP classifier

        A trained CNN's `features` are a new representation of the images. Write
        `extract_features`, then train a fully connected classifier on them. If you did
        assignment 1, paste your NumPy MLP into the cell after it and train that on the
        features instead of the small PyTorch MLP given there.
        """
    ),
    answer(
        "extract_features",
        """
        def extract_features(model, loader):
            \"\"\"The model's features for every image of `loader`, in order.

            Args:
                model: a network with a `features` method or module: float32 (B, 1, 28, 28)
                    -> float32 (B, D).
                loader: an iterable of (images float32 (B, 1, 28, 28), labels int64 (B,))
                    batches, not shuffled.

            Returns:
                features: float32 NumPy array (N, D) and labels: int64 NumPy array (N,).

            Put the model in evaluation mode and turn gradients off (torch.no_grad()); move
            each batch's features to the CPU before keeping them. About 8 lines.
            \"\"\"
            features, labels = None, None
            ### BEGIN SOLUTION
            model.eval()
            kept, targets = [], []
            with torch.no_grad():
                for images, batch_labels in loader:
                    kept.append(model.features(images).cpu())
                    targets.append(batch_labels.cpu())
            features = torch.cat(kept).numpy().astype(np.float32)
            labels = torch.cat(targets).numpy().astype(np.int64)
            ### END SOLUTION
            return features, labels
        """,
    ),
    test(
        "test_extract_features",
        1,
        """
        # Tests: extract_features (1 point)
        class _Probe(nn.Module):  # features: flatten the image and project it to 6 numbers
            def __init__(self):
                super().__init__()
                torch.manual_seed(3)
                self.features = nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Dropout(0.5))
                self.classifier = nn.Linear(6, 2)


        _probe = _Probe()
        _images = np.arange(5 * 784, dtype=np.uint8).reshape(5, 28, 28)
        _f, _l = extract_features(_probe, InMemoryLoader(_images, np.arange(5), batch_size=2, device=device))
        assert _f.shape == (5, 6) and _f.dtype == np.float32, (_f.shape, _f.dtype)
        assert _l.tolist() == [0, 1, 2, 3, 4] and _l.dtype == np.int64, _l
        assert not _probe.training, "put the model in evaluation mode (dropout off)"
        print("extract_features: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        _images = grading_input("feature_images")  # uint8 (M, 28, 28)
        _loader = InMemoryLoader(_images, np.arange(len(_images)), batch_size=3, device="cpu", mean=MEAN, std=STD)
        _probe = _Probe().train()
        _f, _l = extract_features(_probe, _loader)
        assert np.array_equal(np.asarray(_l), np.arange(len(_images))), "return the loader's labels, in order"
        record("extract_features.features", np.asarray(_f, np.float32), rtol=1e-4, atol=1e-5)
        ### END HIDDEN TESTS
        """,
    ),
    locked(
        "features_mlp",
        """
        MLP_EPOCHS = 10
        if not GRADING and "baseline" not in study_models:
            print("Run the study above first: its baseline CNN gives the features.")
        elif not GRADING:
            cnn = study_models["baseline"]
            train_features, train_labels = extract_features(cnn, make_loader(study_train))
            val_features, val_labels = extract_features(cnn, make_loader(val_set))
            print(f"features: train {train_features.shape}, validation {val_features.shape}")
            # Standardise with the training features' statistics, as an MLP likes its inputs.
            mu, sigma = train_features.mean(0), train_features.std(0) + 1e-6

            def to_batches(x, y, shuffle):
                dataset = torch.utils.data.TensorDataset(torch.from_numpy((x - mu) / sigma), torch.from_numpy(y))
                return torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=shuffle)

            seed_everything(SEED)
            mlp = nn.Sequential(nn.Linear(train_features.shape[1], 128), nn.ReLU(), nn.Linear(128, 10))
            mlp_history = fit(mlp, to_batches(train_features, train_labels, True),
                              to_batches(val_features, val_labels, False), loss_fn=nn.CrossEntropyLoss(),
                              optimizer=torch.optim.Adam(mlp.parameters(), lr=1e-3), epochs=MLP_EPOCHS,
                              metrics={"accuracy": Accuracy()}, device=device)
            cnn_accuracy = accuracy(predict(cnn, make_loader(val_set)), val_set.labels)
            print(f"validation accuracy: CNN {cnn_accuracy:.4f}, "
                  f"MLP on its features {mlp_history.best('val_accuracy')['val_accuracy']:.4f}")
        """,
    ),
    md(
        """
        > **Report (2.3).** Compare the MLP on CNN features with the CNN itself and (if you did
        > assignment 1) with your MLP on raw pixels. In at least three sentences: what do the
        > convolutional layers give the MLP that raw pixels do not?

        ## Part 3: three classes, and scrambled images

        The same images, relabelled into 3 classes: **Clothes** (T-shirt/top, Trouser,
        Pullover, Dress, Coat, Shirt), **Shoes** (Sandal, Sneaker, Ankle boot) and **Others**
        (Bag).
        """
    ),
    answer(
        "to_three_class_labels",
        """
        def to_three_class_labels(labels):
            \"\"\"Fashion-MNIST labels (0..9) relabelled Clothes (0), Shoes (1), Others (2).

            Args:
                labels: int64 array (N,) in 0..9 (CLASSES gives their names).

            Returns:
                int64 array (N,) in 0..2 (THREE_CLASSES gives their names).

            No loop over N: build a lookup table of 10 entries, then index it. About 2 lines.
            \"\"\"
            three = None
            ### BEGIN SOLUTION
            table = np.array([0, 0, 0, 0, 0, 1, 0, 1, 2, 1], dtype=np.int64)
            three = table[np.asarray(labels)]
            ### END SOLUTION
            return three
        """,
    ),
    test(
        "test_to_three_class_labels",
        1,
        """
        # Tests: to_three_class_labels (1 point)
        _three = to_three_class_labels(np.arange(10))
        assert np.asarray(_three).dtype == np.int64, np.asarray(_three).dtype
        assert dict(zip(CLASSES, _three.tolist()))["Bag"] == 2 and _three[9] == 1, _three
        assert np.array_equal(to_three_class_labels(test_set.labels), to_three_classes(test_set).labels)
        print("to_three_class_labels: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        record("to_three_class_labels", np.asarray(to_three_class_labels(grading_input("labels10"))), atol=0)
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        The scrambled images cut every image into `patch` x `patch` tiles (a 4 x 4 grid of 7x7
        tiles by default) and put the tiles back in one fixed order, the same for every image.
        """
    ),
    answer(
        "scramble_images",
        """
        def scramble_images(images, order, patch=7):
            \"\"\"Cut each image into patch x patch tiles and put them back in `order`.

            Args:
                images: uint8 array (N, H, W), H and W multiples of `patch`.
                order: int64 array (G,), a permutation of the G = (H // patch) * (W // patch)
                    tiles, numbered row by row: tile `order[j]` of the input goes to position j.
                patch: the tile size in pixels.

            Returns:
                uint8 array (N, H, W), the same pixels in moved tiles.

            No loop over N (a loop over the G tiles is fine); about 6 lines.
            Hint: images.reshape(N, H // patch, patch, W // patch, patch) puts the tile row and
            column on axes 1 and 3; transpose, reshape to (N, G, patch, patch), index with
            order, and undo the reshapes.
            \"\"\"
            out = None
            ### BEGIN SOLUTION
            images, order = np.asarray(images), np.asarray(order)
            n, h, w = images.shape
            gh, gw = h // patch, w // patch
            tiles = images.reshape(n, gh, patch, gw, patch).transpose(0, 1, 3, 2, 4)
            tiles = tiles.reshape(n, gh * gw, patch, patch)[:, order]
            out = tiles.reshape(n, gh, gw, patch, patch).transpose(0, 1, 3, 2, 4).reshape(n, h, w)
            ### END SOLUTION
            return out
        """,
    ),
    test(
        "test_scramble_images",
        1,
        """
        # Tests: scramble_images (1 point)
        _few = test_set.subset(np.arange(20))
        _order = np.random.default_rng(5).permutation(16)  # what helpers.data.scramble(seed=5) uses
        _mine = scramble_images(_few.images, _order)
        assert _mine.shape == (20, 28, 28) and _mine.dtype == np.uint8, (_mine.shape, _mine.dtype)
        assert np.array_equal(_mine, scramble(_few, seed=5).images), "tiles in the wrong places"
        assert np.array_equal(scramble_images(_few.images, np.arange(16)), _few.images)
        print("scramble_images: visible tests passed.")
        ### BEGIN HIDDEN TESTS
        _images = grading_input("scramble_images")  # uint8 (M, 28, 28)
        record("scramble_images.p7", np.asarray(scramble_images(_images, grading_input("scramble_order7"))), atol=0)
        record("scramble_images.p14",
               np.asarray(scramble_images(_images, grading_input("scramble_order14"), patch=14)), atol=0)
        ### END HIDDEN TESTS
        """,
    ),
    md(
        """
        Now train `ImprovedNet(num_classes=3)` with your `train_improved` on the 3-class labels
        and evaluate it on the test set and on the scrambled test set (tiles shuffled with
        `seed=0`).
        """
    ),
    locked(
        "three_classes",
        """
        THREE_CLASS_EPOCHS = 2
        if not GRADING:
            three_train = LabelledImages(train_set.images, to_three_class_labels(train_set.labels), THREE_CLASSES)
            three_val = LabelledImages(val_set.images, to_three_class_labels(val_set.labels), THREE_CLASSES)
            three_test = LabelledImages(test_set.images, to_three_class_labels(test_set.labels), THREE_CLASSES)
            scrambled_test = LabelledImages(
                scramble_images(test_set.images, np.random.default_rng(0).permutation(16)),
                three_test.labels, THREE_CLASSES)
            plot_image_grid(scrambled_test.images[:8], scrambled_test.labels[:8], class_names=THREE_CLASSES)
            plt.show()
            seed_everything(SEED)
            three_net = ImprovedNet(num_classes=3)
            train_improved(three_net, three_train, three_val, epochs=THREE_CLASS_EPOCHS)
            for name, data in [("test", three_test), ("scrambled test", scrambled_test)]:
                scores = predict(three_net, make_loader(data))
                per_class = class_accuracies(scores.argmax(1).numpy(), data.labels, 3)
                print(f"{name}: accuracy {accuracy(scores, data.labels):.4f}; per class "
                      + ", ".join(f"{c} {v:.3f}" for c, v in zip(THREE_CLASSES, per_class)))
                plot_confusion_matrix(targets=data.labels, predictions=scores,
                                      class_names=THREE_CLASSES, normalize=True)
                plt.title(name)
                plt.show()
        """,
    ),
    md(
        """
        > **Report (3).** Report both accuracies and confusion matrices. In at least three
        > sentences: why is the 3-class task easier than the 10-class one, and why is its
        > per-class accuracy unbalanced or not (how many images does each class have)? What
        > does the drop on scrambled images say about what the convolutions learned, and would
        > a fully connected network trained on scrambled images suffer the same drop? Why?

        ## Performance: predictions for the hidden test set

        Under the autograder this cell writes your improved network's predictions for the
        hidden test images. Nothing to do here but make sure `improved_net.pt` is submitted.
        """
    ),
    locked(
        "hidden_predictions",
        """
        if GRADING:
            from helpers.data.hidden import read_hidden_inputs

            hidden_ids, hidden_images = read_hidden_inputs(DATA_DIR)  # uint8 (N, 28, 28)
            hidden_loader = InMemoryLoader(hidden_images, np.zeros(len(hidden_images), np.int64),
                                           batch_size=500, device=device, mean=MEAN, std=STD)
            hidden_predicted = predict(improved, hidden_loader).argmax(1)  # int64 (N,)
            written = save_predictions(Path(OUTPUT_DIR) / "improved_predictions.csv", hidden_ids,
                                       hidden_predicted)
            print(f"Wrote {len(hidden_ids)} predictions to {written}.")
        """,
    ),
]


def build() -> nbformat.NotebookNode:
    notebook = new_notebook(cells=CELLS)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    ids = [c.metadata["nbgrader"]["grade_id"] for c in CELLS if "nbgrader" in c.metadata]
    if len(ids) != len(set(ids)):
        raise ValueError(f"Duplicate grade_id in {ids}")
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"  # stable ids: rebuilding gives the same file
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(), OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
