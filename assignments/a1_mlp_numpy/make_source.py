"""Write ``source/a1_mlp_numpy/a1_mlp_numpy.ipynb``, the instructor notebook of a1, from this file.

The notebook is generated so that it can be reviewed as code and rebuilt exactly::

    .venv/bin/python assignments/a1_mlp_numpy/make_source.py      # writes the source notebook
    .venv/bin/nbgrader generate_assignment a1_mlp_numpy            # writes release/a1_mlp_numpy/

Cells are made by four helpers: ``md`` (text), ``locked`` (set-up and glue students must not
change), ``answer`` (solution between ``### BEGIN SOLUTION`` / ``### END SOLUTION``), ``tests``
(visible checks, then hidden tests that ``record()`` what the student's code returns on
``grading_input(...)``s made by ``grading_inputs.py``) and ``written`` (a manually graded answer).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
NAME = "a1_mlp_numpy"
NOTEBOOK = ROOT / "source" / NAME / f"{NAME}.ipynb"

CELLS: list[nbformat.NotebookNode] = []


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float = 0) -> dict:
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


def _clean(text: str) -> str:
    return text.strip("\n")


def md(text: str) -> None:
    # Fixed cell ids (nbformat draws random ones) keep the generated notebook reproducible.
    CELLS.append(new_markdown_cell(_clean(text), id=f"md-{len(CELLS):02d}"))


def locked(grade_id: str, source: str, *, tags: tuple[str, ...] = ()) -> None:
    cell = new_code_cell(_clean(source), id=grade_id)
    cell.metadata["nbgrader"] = _meta(grade_id, solution=False, grade=False, locked=True)
    if tags:
        cell.metadata["tags"] = list(tags)
    CELLS.append(cell)


def answer(grade_id: str, source: str) -> None:
    cell = new_code_cell(_clean(source), id=grade_id)
    cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=False, locked=False)
    CELLS.append(cell)


def tests(grade_id: str, points: float, visible: str, hidden: str) -> None:
    source = _clean(visible) + "\n\n### BEGIN HIDDEN TESTS\n" + _clean(hidden)
    source += "\n### END HIDDEN TESTS"
    cell = new_code_cell(source, id=grade_id)
    cell.metadata["nbgrader"] = _meta(grade_id, solution=False, grade=True, locked=True,
                                      points=points)  # fmt: skip
    CELLS.append(cell)


def written(grade_id: str, points: float, model_answer: str) -> None:
    text = "### BEGIN SOLUTION\n" + _clean(model_answer) + "\n### END SOLUTION"
    cell = new_markdown_cell(text, id=grade_id)
    cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=True, locked=False,
                                      points=points)  # fmt: skip
    CELLS.append(cell)


# ---------------------------------------------------------------------------------------------
md(r"""
# Assignment 1: a multi-layer perceptron from scratch in NumPy

You will build, train and study a fully connected network that classifies the 28 × 28 grey
images of **Fashion-MNIST** into 10 classes (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal,
Shirt, Sneaker, Bag, Ankle boot). Everything is NumPy: every forward pass, every gradient, the
optimiser and the training loop are yours.

**Shape symbols**, used in every docstring below:

| symbol | meaning |
|---|---|
| `N` | number of images in a batch |
| `D` | number of input features, `D = 28 * 28 = 784` |
| `H` | number of hidden units of a layer (`H1`, `H2`, ... when there are several) |
| `C` | number of classes, `C = 10` |

Arrays are `float32` while training (fast) and `float64` in the gradient checks (precise); your
functions must work for both and keep the dtype of their inputs. Labels are `int64`.

**How this notebook is graded.** Each exercise cell (`# YOUR CODE HERE`) is followed by a test
cell. The visible part of a test runs when you run the cell; the autograder adds hidden tests
that call your function on other inputs and compare its outputs (and gradients) with the
reference solution. Performance: the autograder runs your trained network on a hidden test set
of Fashion-MNIST images; full marks from **88 %** accuracy. Written answers are graded by hand.

**What you submit**: this notebook, run top to bottom, *and* `mlp_weights.npz` (written by the
training cell below). The autograder does not train: it loads `mlp_weights.npz`.

Time: a full run of the solved notebook takes a few minutes on a laptop CPU.
""")

locked(
    "parameters",
    """
# Parameters: the autograder replaces these values (papermill). Leave them as they are.
GRADING = False  # True while the autograder runs the notebook
DEVICE = "auto"  # unused here: this assignment runs on the CPU with NumPy
DATA_DIR = None  # the hidden test images, only under the autograder
OUTPUT_DIR = "outputs"  # where the prediction file goes
SEED = 0
""",
    tags=("parameters",),
)

locked(
    "setup",
    """
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from autograder.record import grading_input, record
from helpers.data import CLASSES, fashion_mnist, train_val_split
from helpers.experiments import ExperimentLog, ablation_table
from helpers.history import History
from helpers.predictions import save_predictions

np.set_printoptions(precision=4, suppress=True)
WEIGHTS_FILE = Path("mlp_weights.npz")  # submitted with the notebook; loaded when GRADING
""",
)

md(r"""
## The gradient checker

Every backward pass you write is checked against a **numerical gradient**: nudge each input
entry by ±h and watch how the output changes,
$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}$.
The checker compares the two with the *relative error*
$\max_i \frac{|a_i - b_i|}{\max(10^{-8}, |a_i| + |b_i|)}$.

In `float64`, with `h = 1e-5`, what is good enough:

* **below 1e-7** for a single layer, an activation or the loss: your gradient is right;
* **below 1e-5** for the whole network (ReLU's kink at 0 can push a few entries a little higher);
* **around 1e-2 or more**: there is a bug (a missing term, a wrong axis, a missing `/ N`).

`check(...)` prints the error and whether it is below the tolerance. Use it freely.
""")

locked(
    "gradient_check_tools",
    '''
def rel_error(a, b):
    """Largest relative error between two arrays of the same shape (a float)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h=1e-5):
    """Numerical gradient of a scalar function.

    Args:
        f: a function of no arguments returning a float; it must read `x` (changed in place).
        x: float64 array, any shape; restored after each nudge.

    Returns:
        grad: float64 array, same shape as `x`, d f / d x.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Numerical gradient of `sum(f() * dout)` with respect to `x`: what a backward pass given
    the upstream gradient `dout` must return.

    Args:
        f: a function of no arguments returning an array shaped like `dout`; it reads `x`.
        x: float64 array, any shape.
        dout: float64 array, the shape of f's output.
    """
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def check(name, analytic, numeric, tolerance=1e-7):
    """Print the relative error between two gradients and whether it is good enough."""
    error = rel_error(analytic, numeric)
    verdict = "good" if error < tolerance else "TOO LARGE: look for a bug"
    print(f"{name:<28} relative error {error:.2e}  ({verdict}; should be below {tolerance:g})")
    return error
''',
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Part 1: the data

`fashion_mnist("train")` gives 60,000 images, `uint8` `(N, 28, 28)` with values 0..255, and
their labels, `int64` `(N,)`. We hold out 10 % of them (6,000, stratified by class) as the
**validation set**: it chooses the hyper-parameters and tells early stopping when to stop. The
10,000 test images are the autograder's; we do not look at them here, so that the validation
accuracy stays an honest estimate of what the grader will measure.

An MLP takes vectors, so each image becomes a row of `D = 784` numbers. Then every feature is
**standardised** (z-score): subtract its mean and divide by its standard deviation, so that all
inputs have a similar scale and the first layer's weights get gradients of similar size.
The statistics come from the **training images only**: the validation and test images are
normalised with the training mean and standard deviation, exactly as unseen images will be.

A catch: pixels in the corners are black in almost every image, so their standard deviation is
tiny (about 0.0003 on the 0..1 scale). Dividing by it would turn one stray grey pixel into a
feature of size 1000. We therefore floor the standard deviation at `eps = 0.1`.
""")

answer(
    "flatten_normalize",
    '''
def flatten_images(images):
    """Turn images into rows of features scaled to [0, 1].

    Args:
        images: uint8 array (N, 28, 28), pixel values 0..255.

    Returns:
        X: float32 array (N, D), D = 784, values in [0, 1] (pixel / 255), row i is image i read
            row by row.

    Hint: `reshape` and `astype`; about 1 line.
    """
    X = None
    ### BEGIN SOLUTION
    X = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    ### END SOLUTION
    return X


def fit_normalizer(X_train, eps=0.1):
    """Per-feature statistics of the training set.

    Args:
        X_train: float array (N, D), the training features only.
        eps: the smallest standard deviation allowed (a float).

    Returns:
        mean: array (D,), the mean of each feature (column) over the N rows.
        std: array (D,), the standard deviation of each feature, floored at eps:
            max(std, eps). Both have the dtype of X_train.

    Hint: `mean` and `std` along axis 0, `np.maximum`; about 3 lines, no loop.
    """
    mean, std = None, None
    ### BEGIN SOLUTION
    mean = X_train.mean(axis=0)
    std = np.maximum(X_train.std(axis=0), eps).astype(X_train.dtype)
    ### END SOLUTION
    return mean, std


def normalize(X, mean, std):
    """Standardise features with statistics from fit_normalizer.

    Args:
        X: float array (N, D).
        mean, std: arrays (D,) from fit_normalizer(X_train).

    Returns:
        X_norm: array (N, D), the dtype of X: (X - mean) / std, feature by feature.

    Hint: broadcasting; 1 line.
    """
    X_norm = None
    ### BEGIN SOLUTION
    X_norm = ((X - mean) / std).astype(X.dtype)
    ### END SOLUTION
    return X_norm
''',
)

tests(
    "test_flatten_normalize",
    2,
    """
images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
X = flatten_images(images.astype(np.uint8))
assert X is not None, "flatten_images returned None: fill in the code above."
assert X.shape == (2, 784) and X.dtype == np.float32, (
    f"expected float32 (2, 784), got {X.dtype} {X.shape}")
assert np.isclose(X[0, 29], 29 / 255) and X.max() <= 1, "pixel (1, 1) must be feature 29, / 255"
rng = np.random.default_rng(1)
A = rng.normal(3.0, 2.0, size=(500, 4)).astype(np.float32)
A[:, 3] = 0.5  # a constant feature: its std is floored at eps
mean, std = fit_normalizer(A)
assert mean.shape == (4,) and std.shape == (4,), "mean and std must be (D,)"
assert np.allclose(std[3], 0.1), "a constant feature's std must be floored at eps = 0.1"
Z = normalize(A, mean, std)
assert Z.dtype == np.float32, f"normalize must keep the dtype (float32), got {Z.dtype}"
assert np.allclose(Z[:, :3].mean(0), 0, atol=1e-5) and np.allclose(Z[:, :3].std(0), 1, atol=1e-4)
print("flatten_images, fit_normalizer and normalize look right.")
""",
    """
X = flatten_images(grading_input("images_small"))
assert X.dtype == np.float32, f"flatten_images must return float32, got {X.dtype}"
record("flatten_images.X", X, rtol=1e-6)
mean, std = fit_normalizer(grading_input("norm_train"))
record("fit_normalizer.mean", mean, rtol=1e-6)
record("fit_normalizer.std", std, rtol=1e-6)
record("normalize.X", normalize(grading_input("norm_x"), mean, std), rtol=1e-6, atol=1e-6)
""",
)

locked(
    "load_data",
    """
# The data for the rest of the notebook (not needed by the autograder, which does not train).
X_train = X_val = y_train = y_val = None
feature_mean = feature_std = None
if not GRADING:
    train_set, val_set = train_val_split(fashion_mnist("train"), val_size=0.1, seed=SEED)
    y_train, y_val = train_set.labels, val_set.labels
    X_train_raw, X_val_raw = flatten_images(train_set.images), flatten_images(val_set.images)
    feature_mean, feature_std = fit_normalizer(X_train_raw)
    X_train = normalize(X_train_raw, feature_mean, feature_std)
    X_val = normalize(X_val_raw, feature_mean, feature_std)
    print(f"X_train {X_train.dtype} {X_train.shape}, X_val {X_val.dtype} {X_val.shape}")
    print(f"training features: mean {X_train.mean():.3f}, std {X_train.std():.3f}")
    print(f"validation features: mean {X_val.mean():.3f}, std {X_val.std():.3f}")
""",
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Part 2: layers, one forward and one backward pass each

Each layer is a pair of functions. `*_forward` computes the output and returns a **cache**:
whatever the backward pass will need. `*_backward` receives `dout`, the gradient of the loss
with respect to the layer's output (same shape as `out`), and returns the gradient with respect
to each input (same shape as that input). No loops over `N`: use matrix products and
broadcasting.

### The affine (fully connected) layer

$\text{out} = x W + b$ with `x` `(N, D)`, `W` `(D, H)`, `b` `(H,)`.
""")

answer(
    "affine",
    '''
def affine_forward(x, w, b):
    """Affine layer: the product of x and w, plus b, for every row of x.

    Args:
        x: float array (N, D), one input row per example.
        w: float array (D, H), the weights.
        b: float array (H,), the biases.

    Returns:
        out: float array (N, H).
        cache: the tuple (x, w, b), for affine_backward.

    About 1 line.
    """
    out = None
    ### BEGIN SOLUTION
    out = x @ w + b
    ### END SOLUTION
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Args:
        dout: float array (N, H), upstream gradient d loss / d out.
        cache: (x, w, b) from affine_forward.

    Returns:
        dx: (N, D), dw: (D, H), db: (H,): d loss / d x, d loss / d w, d loss / d b.

    Hint: dx and dw are matrix products with a transpose; db sums over the batch. 3 lines.
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    ### BEGIN SOLUTION
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db
''',
)

locked(
    "check_affine",
    """
# Gradient check of the affine layer (float64). Each error should be below 1e-7.
rng = np.random.default_rng(SEED)
x, w, b = rng.normal(size=(5, 6)), rng.normal(size=(6, 4)), rng.normal(size=4)
dout = rng.normal(size=(5, 4))
dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
check("affine dx", dx, numerical_gradient_array(lambda: affine_forward(x, w, b)[0], x, dout))
check("affine dw", dw, numerical_gradient_array(lambda: affine_forward(x, w, b)[0], w, dout))
check("affine db", db, numerical_gradient_array(lambda: affine_forward(x, w, b)[0], b, dout))
""",
)

tests(
    "test_affine",
    3,
    """
rng = np.random.default_rng(3)
x, w, b = rng.normal(size=(3, 5)), rng.normal(size=(5, 2)), rng.normal(size=2)
out, cache = affine_forward(x, w, b)
assert out is not None and out.shape == (3, 2), "affine_forward: out must be (N, H) = (3, 2)"
assert np.allclose(out, x @ w + b)
dout = rng.normal(size=(3, 2))
dx, dw, db = affine_backward(dout, cache)
assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape, "gradient shapes"
assert rel_error(dw, numerical_gradient_array(lambda: affine_forward(x, w, b)[0], w, dout)) < 1e-7
print("affine_forward and affine_backward look right.")
""",
    """
x, w, b = grading_input("affine_x"), grading_input("affine_w"), grading_input("affine_b")
affine_out, affine_cache = affine_forward(x, w, b)
record("affine_forward.out", affine_out, rtol=1e-6)
dx, dw, db = affine_backward(grading_input("affine_dout"), affine_cache)
record("affine_backward", {"dx": dx, "dw": dw, "db": db}, rtol=1e-6, atol=1e-10)
""",
)

md(r"""
### Activation functions

Four non-linearities, applied element by element to an array `x` of any shape (in the network,
`(N, H)`). Each forward returns `(out, cache)`; each backward returns `dx`, the shape of `x`.

| name | forward | derivative |
|---|---|---|
| ReLU | $\max(0, x)$ | 1 where $x > 0$, else 0 |
| Leaky ReLU | $x$ where $x > 0$, else $\alpha x$ ($\alpha = 0.01$) | 1 if $x > 0$, else $\alpha$ |
| tanh | $\tanh(x)$ | $1 - \tanh(x)^2$ (reuse `out`) |
| GELU (tanh form) | $\frac{x}{2}(1 + \tanh u)$, $u = k\,(x + 0.044715\,x^3)$ | work it out |

with $k = \sqrt{2/\pi}$: for GELU's derivative, use the product and the chain rule.

GELU here is the tanh approximation used in BERT and GPT-2 (NumPy has no `erf`); use exactly
this formula, the tests compare numbers.
""")

answer(
    "relu_leaky",
    '''
def relu_forward(x):
    """ReLU. x: float array, any shape. Returns out (shape of x) and cache = x. 1 line."""
    out = None
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    ### END SOLUTION
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """dout: upstream gradient, shape of x; cache: x. Returns dx, shape of x. 1 line.
    Use the derivative 0 at x == 0."""
    x = cache
    dx = None
    ### BEGIN SOLUTION
    dx = dout * (x > 0)
    ### END SOLUTION
    return dx


def leaky_relu_forward(x, alpha=0.01):
    """Leaky ReLU with slope alpha for x <= 0. Returns out (shape of x), cache = (x, alpha).
    Hint: np.where; 1 line."""
    out = None
    ### BEGIN SOLUTION
    out = np.where(x > 0, x, alpha * x)
    ### END SOLUTION
    cache = (x, alpha)
    return out, cache


def leaky_relu_backward(dout, cache):
    """dout: shape of x; cache: (x, alpha). Returns dx, shape of x. 1 line."""
    x, alpha = cache
    dx = None
    ### BEGIN SOLUTION
    dx = np.where(x > 0, dout, alpha * dout)
    ### END SOLUTION
    return dx
''',
)

answer(
    "tanh_gelu",
    '''
GELU_K = np.sqrt(2 / np.pi)


def tanh_forward(x):
    """tanh. Returns out (shape of x) and cache = out (the backward pass only needs out)."""
    out = None
    ### BEGIN SOLUTION
    out = np.tanh(x)
    ### END SOLUTION
    cache = out
    return out, cache


def tanh_backward(dout, cache):
    """dout: shape of x; cache: out = tanh(x). Returns dx. 1 line."""
    out = cache
    dx = None
    ### BEGIN SOLUTION
    dx = dout * (1 - out**2)
    ### END SOLUTION
    return dx


def gelu_forward(x):
    """GELU, tanh form: out = x / 2 * (1 + tanh(GELU_K * (x + 0.044715 * x**3))).
    Returns out (shape of x) and cache = x. About 2 lines."""
    out = None
    ### BEGIN SOLUTION
    t = np.tanh(GELU_K * (x + 0.044715 * x**3))
    out = 0.5 * x * (1 + t)
    ### END SOLUTION
    cache = x
    return out, cache


def gelu_backward(dout, cache):
    """dout: shape of x; cache: x. Returns dx, shape of x.
    Hint: d/dx [x/2 (1 + tanh u)] = (1 + tanh u)/2 + x/2 (1 - tanh(u)^2) du/dx. About 3 lines."""
    x = cache
    dx = None
    ### BEGIN SOLUTION
    t = np.tanh(GELU_K * (x + 0.044715 * x**3))
    du = GELU_K * (1 + 3 * 0.044715 * x**2)
    dx = dout * (0.5 * (1 + t) + 0.5 * x * (1 - t**2) * du)
    ### END SOLUTION
    return dx
''',
)

locked(
    "activations",
    """
# The activations by name, for the network below: name -> (forward, backward).
ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "gelu": (gelu_forward, gelu_backward),
}

# Gradient check of each activation (float64). Each error should be below 1e-7.
rng = np.random.default_rng(SEED)
x = rng.normal(size=(4, 5))
x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink, where no gradient exists
dout = rng.normal(size=(4, 5))
for name, (forward, backward) in ACTIVATIONS.items():
    dx = backward(dout, forward(x)[1])
    check(f"{name} dx", dx, numerical_gradient_array(lambda f=forward: f(x)[0], x, dout))
""",
)

ACT_VISIBLE = """
x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
out, cache = {name}_forward(x)
assert out is not None, "{name}_forward returned None: fill in the code above."
assert np.allclose(out, {expected}), f"{name}_forward: expected {expected}, got {{out}}"
dx = {name}_backward(np.ones_like(x), cache)
assert dx is not None and dx.shape == x.shape, "{name}_backward must return dx shaped like x"
x = np.random.default_rng(4).normal(size=(3, 4)) + 0.05
dout = np.random.default_rng(5).normal(size=(3, 4))
dx = {name}_backward(dout, {name}_forward(x)[1])
error = rel_error(dx, numerical_gradient_array(lambda: {name}_forward(x)[0], x, dout))
assert error < 1e-7, f"{name}_backward: relative error {{error:.1e}} against the numerical gradient"
print("{name}_forward and {name}_backward look right.")
"""

ACT_HIDDEN = """
x, dout = grading_input("act_x"), grading_input("act_dout")
act_out, act_cache = {name}_forward(x)
record("{name}_forward.out", act_out, rtol=1e-6, atol=1e-12)
record("{name}_backward.dx", {name}_backward(dout, act_cache), rtol=1e-6, atol=1e-12)
"""

for act, expected in (
    ("relu", "[[0, 0, 0, 0.5, 2]]"),
    ("leaky_relu", "[[-0.02, -0.005, 0, 0.5, 2]]"),
    ("tanh", "np.tanh(x)"),
    ("gelu", "[[-0.04540231, -0.15428599, 0, 0.34571401, 1.95459769]]"),
):
    tests(
        f"test_{act}",
        2,
        ACT_VISIBLE.format(name=act, expected=expected),
        ACT_HIDDEN.format(name=act),
    )

md(r"""
### Inverted dropout

While training, dropout zeroes each hidden unit with probability `p` and scales the survivors
by $1/(1-p)$, so that the expected value of every unit is unchanged and nothing needs rescaling
at test time ("inverted" dropout). At evaluation (`train=False`) or with `p = 0` it does
nothing. The mask drawn in the forward pass must be **kept in the cache**: the backward pass
lets the gradient through exactly where the forward pass let the value through, with the same
scale.

Draw the mask from the generator you are given, exactly as the docstring says, so that a run is
reproducible with a seed.
""")

answer(
    "dropout",
    '''
def dropout_forward(x, p, train, rng):
    """Inverted dropout.

    Args:
        x: float array, any shape (in the network, (N, H)).
        p: float in [0, 1), the probability of dropping a unit.
        train: bool; when False, or when p == 0, out = x and the cache is None.
        rng: a numpy.random.Generator. Draw u = rng.random(x.shape) once; keep the units where
            u >= p.

    Returns:
        out: array shaped like x, same dtype: x * mask.
        cache: mask, the array shaped like x (dtype of x) holding 0 for a dropped unit and
            1 / (1 - p) for a kept one; None when nothing was dropped.

    About 3 lines.
    """
    if not train or p == 0:
        return x, None
    out, mask = None, None
    ### BEGIN SOLUTION
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    out = x * mask
    ### END SOLUTION
    return out, mask


def dropout_backward(dout, cache):
    """dout: upstream gradient shaped like x; cache: the mask (or None).
    Returns dx shaped like x. 1 line (plus the None case, done for you)."""
    mask = cache
    if mask is None:
        return dout
    dx = None
    ### BEGIN SOLUTION
    dx = dout * mask
    ### END SOLUTION
    return dx
''',
)

locked(
    "check_dropout",
    """
# Gradient check of dropout with a fixed mask (the same seed in every call). Below 1e-7.
rng = np.random.default_rng(SEED)
x, dout = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
out, mask = dropout_forward(x, 0.5, True, np.random.default_rng(1))
dx = dropout_backward(dout, mask)
f = lambda: dropout_forward(x, 0.5, True, np.random.default_rng(1))[0]  # noqa: E731
check("dropout dx", dx, numerical_gradient_array(f, x, dout))
big = np.ones((1000, 100))
out, _ = dropout_forward(big, 0.3, True, rng)
print(f"p = 0.3: kept {np.mean(out != 0):.3f} of the units (expect about 0.7), "
      f"mean {out.mean():.3f} (expect about 1.0)")
""",
)

tests(
    "test_dropout",
    3,
    """
x = np.random.default_rng(6).uniform(0.5, 2.0, size=(400, 50))
out, mask = dropout_forward(x, 0.25, True, np.random.default_rng(7))
assert out is not None and mask is not None, "dropout_forward returned None: fill in the code."
assert out.shape == x.shape and mask.shape == x.shape
kept = out != 0
assert abs(kept.mean() - 0.75) < 0.02, f"p = 0.25: about 75 % should be kept, not {kept.mean():.1%}"
assert np.allclose(out[kept], x[kept] / 0.75), "kept units must be scaled by 1 / (1 - p)"
dx = dropout_backward(np.ones_like(x), mask)
assert np.array_equal(dx != 0, kept), "the gradient must flow exactly through the kept units"
assert dropout_forward(x, 0.25, False, None)[0] is x, "train=False must return x unchanged"
print("dropout_forward and dropout_backward look right.")
""",
    """
x, dout = grading_input("dropout_x"), grading_input("dropout_dout")
p = float(grading_input("dropout_p"))
seed = int(grading_input("dropout_seed"))
dropped, drop_mask = dropout_forward(x, p, True, np.random.default_rng(seed))
assert dropped.dtype == x.dtype, f"dropout_forward must keep x's dtype, got {dropped.dtype}"
# The mask is drawn as the docstring says, so the output (which units, how scaled) is exact.
record("dropout.out", dropped, rtol=1e-9, atol=1e-12)
record("dropout.dx", dropout_backward(dout, drop_mask), rtol=1e-9, atol=1e-12)
out_eval, cache_eval = dropout_forward(x, p, False, None)
assert out_eval is x and dropout_backward(dout, cache_eval) is dout, (
    "with train=False, dropout must pass x and dout through unchanged")
""",
)

md(r"""
### Softmax cross-entropy

The network outputs **scores** `(N, C)`, one per class. Softmax turns a row into probabilities,
$p_{ic} = e^{s_{ic}} / \sum_k e^{s_{ik}}$, and the loss is the mean negative log-probability of
the true class: $L = -\frac{1}{N} \sum_i \log p_{i y_i}$. Its gradient is remarkably simple:
$\frac{\partial L}{\partial s_{ic}} = \frac{1}{N}(p_{ic} - [c = y_i])$.

**Numerical stability.** `np.exp(1000)` is `inf`. Softmax does not change when the same number
is subtracted from a whole row, so subtract each row's maximum first: then every exponent is
at most 0. Better still, compute $\log p$ directly as
$s_{ic} - m_i - \log\sum_k e^{s_{ik} - m_i}$ (the log-sum-exp trick) instead of `log(softmax)`,
which gives `log(0) = -inf` when a probability underflows.
""")

answer(
    "softmax",
    '''
def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy loss and its gradient, numerically stable.

    Args:
        scores: float array (N, C), the class scores (logits).
        y: int array (N,), the true classes, 0 <= y[i] < C.

    Returns:
        loss: a Python float, the mean over the N examples.
        dscores: float array (N, C), d loss / d scores (note the 1 / N).

    No loop over N (index with np.arange(N), y); about 7 lines.
    """
    loss, dscores = None, None
    ### BEGIN SOLUTION
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(N), y].mean())
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    ### END SOLUTION
    return loss, dscores
''',
)

locked(
    "check_softmax",
    """
# With tiny random scores every class is about equally likely: the loss should be near log(10).
rng = np.random.default_rng(SEED)
scores, y = 0.001 * rng.normal(size=(50, 10)), rng.integers(0, 10, size=50)
loss, dscores = softmax_cross_entropy(scores, y)
print(f"loss {loss:.4f}, expect about log(10) = {np.log(10):.4f}")
# Gradient check (float64): below 1e-7.
scores = rng.normal(size=(5, 10))
_, dscores = softmax_cross_entropy(scores, y[:5])
check("softmax dscores", dscores,
      numerical_gradient(lambda: softmax_cross_entropy(scores, y[:5])[0], scores))
# Stability: huge scores must still give a finite loss.
print("loss for scores near 1e4:", softmax_cross_entropy(np.array([[1e4, 0.0, -1e4]]), [1])[0],
      "(expect 10000.0)")
""",
)

tests(
    "test_softmax",
    3,
    """
loss, dscores = softmax_cross_entropy(np.zeros((4, 10)), np.array([0, 1, 2, 3]))
assert loss is not None and dscores is not None, "fill in softmax_cross_entropy"
assert isinstance(loss, float), f"loss must be a Python float, got {type(loss).__name__}"
assert np.isclose(loss, np.log(10)), f"uniform scores: expected log(10), got {loss}"
assert dscores.shape == (4, 10) and np.allclose(dscores.sum(1), 0), "each row of dscores sums to 0"
loss, dscores = softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
assert np.isfinite(loss) and np.isclose(loss, 500.0), f"not stable: loss {loss} (expected 500)"
assert np.all(np.isfinite(dscores)), "not stable: dscores has inf or nan"
print("softmax_cross_entropy looks right.")
""",
    """
hidden_scores, hidden_y = grading_input("softmax_scores"), grading_input("softmax_y")
for suffix, factor in (("", 1.0), ("_large", 1000.0)):
    hidden_loss, hidden_dscores = softmax_cross_entropy(factor * hidden_scores, hidden_y)
    record(f"softmax.loss{suffix}", hidden_loss, rtol=1e-6)
    record(f"softmax.dscores{suffix}", hidden_dscores, rtol=1e-6, atol=1e-12)
""",
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Part 3: the network

An MLP with hidden sizes `(H1, ..., H_{L-1})` stacks, for each hidden layer, **affine →
activation → dropout**, and ends with an affine layer that gives the scores `(N, C)`. Its
parameters are a dict, `W1, b1, ..., WL, bL`: `W1` is `(D, H1)`, `b1` is `(H1,)`, ..., `WL` is
`(H_{L-1}, C)`, `bL` is `(C,)`.

`init_mlp` (given) draws the weights with **He initialisation**,
$W \sim \mathcal N(0, 2/\text{fan-in})$, which keeps the scale of the activations about
constant from layer to layer for ReLU-like units, and sets the biases to 0.
""")

locked(
    "init_mlp",
    '''
def init_mlp(D, hidden_sizes, C, rng, dtype=np.float32):
    """Parameters of an MLP D -> hidden_sizes -> C.

    Args:
        D: number of input features; hidden_sizes: e.g. (512, 256); C: number of classes.
        rng: a numpy.random.Generator; dtype: float32 to train, float64 for gradient checks.

    Returns:
        params: dict "W1", "b1", ..., "WL", "bL" (L = len(hidden_sizes) + 1): Wl is
            (fan_in, fan_out) with He initialisation, bl is zeros (fan_out,).
    """
    sizes = [D, *hidden_sizes, C]
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1):
        scale = np.sqrt(2 / fan_in)
        params[f"W{layer}"] = (rng.normal(size=(fan_in, fan_out)) * scale).astype(dtype)
        params[f"b{layer}"] = np.zeros(fan_out, dtype=dtype)
    return params
''',
)

answer(
    "mlp",
    '''
def mlp_forward(params, X, activation="relu", dropout=0.0, train=False, rng=None):
    """Scores of the MLP for a batch.

    Args:
        params: dict W1, b1, ..., WL, bL (see init_mlp); L = len(params) // 2 affine layers.
        X: float array (N, D).
        activation: a key of ACTIVATIONS ("relu", "leaky_relu", "tanh", "gelu").
        dropout: the dropout probability p after every hidden activation (not after the last
            affine layer).
        train: True while training (dropout active), False to evaluate.
        rng: numpy.random.Generator for the dropout masks (unused when not training).

    Returns:
        scores: float array (N, C).
        caches: a list with, for each hidden layer, the tuple (affine cache, activation cache,
            dropout cache), then the last affine layer's cache.

    Use affine_forward, ACTIVATIONS[activation] and dropout_forward; about 8 lines.
    """
    forward, _ = ACTIVATIONS[activation]
    L = len(params) // 2
    scores, caches = None, []
    ### BEGIN SOLUTION
    h = X
    for layer in range(1, L):
        h, affine_cache = affine_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        h, activation_cache = forward(h)
        h, dropout_cache = dropout_forward(h, dropout, train, rng)
        caches.append((affine_cache, activation_cache, dropout_cache))
    scores, affine_cache = affine_forward(h, params[f"W{L}"], params[f"b{L}"])
    caches.append(affine_cache)
    ### END SOLUTION
    return scores, caches


def mlp_backward(dscores, caches, activation="relu"):
    """Gradients of the loss with respect to every parameter.

    Args:
        dscores: float array (N, C), d loss / d scores.
        caches: from mlp_forward (same activation).

    Returns:
        grads: dict with the keys of params ("W1", "b1", ...), each the shape of its parameter.

    Walk the layers backwards with affine_backward, ACTIVATIONS[activation] and
    dropout_backward; about 8 lines.
    """
    _, backward = ACTIVATIONS[activation]
    L = len(caches)
    grads = {}
    ### BEGIN SOLUTION
    dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, caches[-1])
    for layer in range(L - 1, 0, -1):
        affine_cache, activation_cache, dropout_cache = caches[layer - 1]
        dh = dropout_backward(dh, dropout_cache)
        dh = backward(dh, activation_cache)
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dh, affine_cache)
    ### END SOLUTION
    return grads
''',
)

locked(
    "mlp_loss",
    '''
def mlp_loss(params, X, y, activation="relu", dropout=0.0, train=False, rng=None):
    """Mean cross-entropy loss of the MLP on (X, y) and its gradients.

    Returns:
        loss: float; grads: dict shaped like params.
    """
    scores, caches = mlp_forward(params, X, activation, dropout, train, rng)
    loss, dscores = softmax_cross_entropy(scores, y)
    return loss, mlp_backward(dscores, caches, activation)


def mlp_predict(params, X, activation="relu", batch_size=5000):
    """Predicted classes, int64 (N,), for features X (N, D), batch by batch."""
    return np.concatenate([
        mlp_forward(params, X[i:i + batch_size], activation)[0].argmax(axis=1)
        for i in range(0, len(X), batch_size)
    ])


def evaluate(params, X, y, activation="relu", batch_size=5000):
    """(mean loss, accuracy) of the MLP on (X, y), without dropout; both floats."""
    total_loss, correct = 0.0, 0
    for i in range(0, len(X), batch_size):
        scores, _ = mlp_forward(params, X[i:i + batch_size], activation)
        loss, _ = softmax_cross_entropy(scores, y[i:i + batch_size])
        total_loss += loss * len(scores)
        correct += int((scores.argmax(axis=1) == y[i:i + batch_size]).sum())
    return total_loss / len(X), correct / len(X)


# Gradient check of a small 3-layer network (float64), every activation, with and without
# dropout (a fixed mask: the same seed in every call). Each error should be below 1e-5.
rng = np.random.default_rng(SEED)
X_check, y_check = rng.normal(size=(6, 7)), rng.integers(0, 4, size=6)
for name in ACTIVATIONS:
    for p in (0.0, 0.3):
        check_params = init_mlp(7, (8, 5), 4, np.random.default_rng(1), dtype=np.float64)
        f = lambda: mlp_loss(check_params, X_check, y_check, name, p, True,  # noqa: E731
                             np.random.default_rng(2))
        _, grads = f()
        error = max(rel_error(grads[k], numerical_gradient(lambda: f()[0], check_params[k]))
                    for k in check_params)
        print(f"MLP, {name:<10} dropout {p}: largest relative error {error:.2e} "
              f"({'good' if error < 1e-5 else 'TOO LARGE: look for a bug'}; below 1e-5)")
''',
)

tests(
    "test_mlp",
    4,
    """
params = init_mlp(7, (8, 5), 4, np.random.default_rng(1), dtype=np.float64)
X, y = np.random.default_rng(2).normal(size=(6, 7)), np.array([0, 1, 2, 3, 0, 1])
scores, caches = mlp_forward(params, X)
assert scores is not None and scores.shape == (6, 4), "mlp_forward: scores must be (N, C)"
assert len(caches) == 3, f"3 affine layers: expected 3 caches, got {len(caches)}"
h = np.maximum(np.maximum(X @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"], 0)
assert np.allclose(scores, h @ params["W3"] + params["b3"]), "mlp_forward: wrong scores"
loss, grads = mlp_loss(params, X, y, "tanh")
assert sorted(grads) == sorted(params), f"grads must have the keys {sorted(params)}"
error = rel_error(grads["W1"], numerical_gradient(lambda: mlp_loss(params, X, y, "tanh")[0],
                                                  params["W1"]))
assert error < 1e-6, f"mlp_backward: relative error {error:.1e} for W1"
print("mlp_forward and mlp_backward look right.")
""",
    """
params = {k: grading_input(f"mlp_{k}") for k in ("W1", "b1", "W2", "b2", "W3", "b3")}
X, dscores = grading_input("mlp_X"), grading_input("mlp_dscores")
for name in ("relu", "gelu"):
    scores, caches = mlp_forward(params, X, name)
    record(f"mlp_forward.{name}", scores, rtol=1e-6, atol=1e-12)
    record(f"mlp_backward.{name}", mlp_backward(dscores, caches, name), rtol=1e-6, atol=1e-12)
""",
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Part 4: training

### SGD with momentum

Plain SGD steps against the gradient, $w \leftarrow w - \eta\,\nabla w$. Momentum keeps a
**velocity** $v$, a running sum of past steps that damps zig-zags and speeds up along
consistent directions:

$$v \leftarrow \mu v - \eta\,\nabla w, \qquad w \leftarrow w + v$$

with learning rate $\eta$ (`lr`) and momentum $\mu$ (typically 0.9). $v$ starts at 0.
""")

answer(
    "sgd_momentum",
    '''
def sgd_momentum(w, dw, v, lr, momentum=0.9):
    """One SGD-with-momentum step for one parameter array.

    Args:
        w: float array, any shape, the parameter.
        dw: float array shaped like w, its gradient.
        v: float array shaped like w, its velocity (zeros at the start).
        lr: float, the learning rate; momentum: float in [0, 1).

    Returns:
        w_next, v_next: the updated parameter and velocity, new arrays shaped like w with
            w's dtype (do not change w or v in place).

    2 lines.
    """
    w_next, v_next = None, None
    ### BEGIN SOLUTION
    v_next = (momentum * v - lr * dw).astype(w.dtype)
    w_next = w + v_next
    ### END SOLUTION
    return w_next, v_next
''',
)

tests(
    "test_sgd_momentum",
    2,
    """
w, dw, v = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([0.1, 0.0])
w_next, v_next = sgd_momentum(w, dw, v, lr=0.1, momentum=0.9)
assert w_next is not None, "fill in sgd_momentum"
assert np.allclose(v_next, [0.04, 0.1]), f"v_next: expected [0.04, 0.1], got {v_next}"
assert np.allclose(w_next, [1.04, 2.1]), f"w_next: expected [1.04, 2.1], got {w_next}"
assert np.allclose(w, [1.0, 2.0]), "sgd_momentum must not change w in place"
print("sgd_momentum looks right.")
""",
    """
w, dw, v = grading_input("sgd_w"), grading_input("sgd_dw"), grading_input("sgd_v")
for step in range(3):
    w, v = sgd_momentum(w, dw * (step + 1), v, lr=0.05, momentum=0.8)
record("sgd_momentum.w", w, rtol=1e-6)
record("sgd_momentum.v", v, rtol=1e-6)
""",
)

md(r"""
### Early stopping

The validation loss usually falls, flattens, then rises again as the network starts to memorise
the training set. Early stopping watches it after every epoch: it remembers the **best** (lowest)
validation loss so far and its epoch, counts the epochs since the last improvement, and tells
the loop to stop when that count reaches `patience`. The training loop then returns the
parameters of the best epoch, not of the last.

An epoch "improves" when its validation loss is strictly below the best so far minus
`min_delta`.
""")

answer(
    "early_stopping",
    '''
class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs in a row.

    Attributes:
        patience: int >= 1; min_delta: float >= 0, the smallest decrease that counts.
        best_loss: float, the lowest validation loss seen (inf before the first update).
        best_epoch: int, the (1-based) epoch of best_loss (0 before the first update).
        bad_epochs: int, epochs since the last improvement.
        epoch: int, the number of updates so far.
        stop: bool, True once bad_epochs >= patience.
    """

    def __init__(self, patience=5, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch = np.inf, 0
        self.bad_epochs, self.epoch, self.stop = 0, 0, False

    def update(self, val_loss):
        """Record one epoch's validation loss (float). Returns True when it is a new best.

        Update epoch, best_loss, best_epoch, bad_epochs and stop; about 9 lines.
        """
        improved = False
        ### BEGIN SOLUTION
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = val_loss, self.epoch
            self.bad_epochs = 0
            improved = True
        else:
            self.bad_epochs += 1
        self.stop = self.bad_epochs >= self.patience
        ### END SOLUTION
        return improved
''',
)

tests(
    "test_early_stopping",
    2,
    """
stopper = EarlyStopping(patience=2)
flags = [stopper.update(loss) for loss in (1.0, 0.8, 0.9, 0.85)]
assert flags == [True, True, False, False], f"improved flags: expected [T, T, F, F], got {flags}"
assert stopper.stop and stopper.best_epoch == 2 and stopper.best_loss == 0.8, (
    "after two epochs without improvement (patience=2) stop must be True, best epoch 2")
print("EarlyStopping looks right.")
""",
    """
losses = grading_input("es_losses")
for patience, min_delta in ((3, 0.0), (2, 0.01)):
    stopper = EarlyStopping(patience, min_delta)
    flags, stops = [], []
    for loss in losses:  # as a training loop does: stop at the first stop
        flags.append(stopper.update(float(loss)))
        stops.append(stopper.stop)
        if stopper.stop:
            break
    key = f"early_stopping.p{patience}"
    # The losses of the epochs that improved (NaN elsewhere), up to the epoch that stopped.
    record(f"{key}.improved_losses", np.where(flags, losses[:len(flags)], np.nan), rtol=1e-9)
    record(f"{key}.best", np.array([stopper.best_epoch, stopper.best_loss, stopper.stop]),
           rtol=1e-9)
""",
)

md(r"""
### The training loop

Put everything together. For each epoch: shuffle the training set (`rng.permutation`), walk
through it in mini-batches of `batch_size`, compute the loss and gradients with `mlp_loss`
(`train=True`, dropout on), and update **every** parameter with `sgd_momentum`. After the epoch,
measure the validation loss and accuracy with `evaluate`, append a row to the history, tell the
early stopper, keep a **copy** of the parameters when they are the best so far, and multiply the
learning rate by `lr_decay` (a simple schedule: smaller steps as training settles).

The history is a `helpers.history.History`: one row per epoch,
`history.append(epoch=..., train_loss=..., val_loss=..., val_accuracy=..., lr=..., seconds=...)`,
where `train_loss` is the mean of the mini-batch losses of that epoch (weighted by batch size)
and `seconds` the wall time of the epoch.
""")

answer(
    "train_mlp",
    '''
def train_mlp(params, X_train, y_train, X_val, y_val, activation="relu", dropout=0.0, lr=0.05,
              lr_decay=1.0, momentum=0.9, batch_size=256, max_epochs=20, patience=4, seed=0,
              verbose=True):
    """Mini-batch SGD with momentum and early stopping on the validation loss.

    Args:
        params: dict from init_mlp (not changed: training works on a copy).
        X_train: float32 (N, D); y_train: int64 (N,); X_val, y_val: the validation set.
        activation, dropout: as in mlp_forward.
        lr: initial learning rate, multiplied by lr_decay after every epoch.
        momentum: for sgd_momentum. batch_size: examples per step (the last batch may be smaller).
        max_epochs: at most this many passes over the training set.
        patience: early stopping's patience (epochs without a lower validation loss).
        seed: seeds the shuffling and the dropout masks.
        verbose: print one line per epoch.

    Returns:
        best_params: dict, a copy of the parameters at the epoch with the lowest validation loss.
        history: History, one row per epoch run (keys epoch, train_loss, val_loss,
            val_accuracy, lr, seconds).

    About 20 lines.
    """
    rng = np.random.default_rng(seed)
    params = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    best_params = {k: v.copy() for k, v in params.items()}
    stopper = EarlyStopping(patience)
    history = History()
    ### BEGIN SOLUTION
    N = len(X_train)
    for epoch in range(1, max_epochs + 1):
        epoch_start = time.perf_counter()
        order = rng.permutation(N)
        total = 0.0
        for i in range(0, N, batch_size):
            batch = order[i:i + batch_size]
            loss, grads = mlp_loss(params, X_train[batch], y_train[batch], activation, dropout,
                                   True, rng)
            total += loss * len(batch)
            for k in params:
                params[k], velocity[k] = sgd_momentum(params[k], grads[k], velocity[k], lr,
                                                      momentum)
        val_loss, val_accuracy = evaluate(params, X_val, y_val, activation)
        history.append(epoch=epoch, train_loss=total / N, val_loss=val_loss,
                       val_accuracy=val_accuracy, lr=lr, seconds=time.perf_counter() - epoch_start)
        if stopper.update(val_loss):
            best_params = {name: value.copy() for name, value in params.items()}
        if verbose:
            row = history.epochs[-1]
            print(f"epoch {epoch:2d}  train loss {row['train_loss']:.4f}  val loss {val_loss:.4f}"
                  f"  val accuracy {val_accuracy:.4f}  lr {lr:.4f}  {row['seconds']:.1f} s")
        if stopper.stop:
            break
        lr *= lr_decay
    ### END SOLUTION
    return best_params, history
''',
)

tests(
    "test_train_mlp",
    4,
    """
rng = np.random.default_rng(8)
centres = rng.normal(scale=3.0, size=(3, 10))
y_toy = rng.integers(0, 3, size=400)
X_toy = (centres[y_toy] + rng.normal(size=(400, 10))).astype(np.float32)
toy_params = init_mlp(10, (16,), 3, np.random.default_rng(0))
best, toy_history = train_mlp(toy_params, X_toy[:300], y_toy[:300], X_toy[300:], y_toy[300:],
                              lr=0.05, batch_size=32, max_epochs=10, patience=3, verbose=False)
assert isinstance(toy_history, History) and len(toy_history) >= 1, "return a History with rows"
for column in ("train_loss", "val_loss", "val_accuracy", "lr", "seconds"):
    assert column in toy_history.columns, f"the history misses the column {column!r}"
assert toy_history["val_accuracy"][-1] > 0.9, "well-separated blobs should be learnt (> 90 %)"
best_loss = evaluate(best, X_toy[300:], y_toy[300:])[0]
assert np.isclose(best_loss, min(toy_history["val_loss"]), rtol=1e-5), (
    "return the parameters of the epoch with the lowest validation loss (copied, not the last)")
assert np.array_equal(toy_params["W1"], init_mlp(10, (16,), 3, np.random.default_rng(0))["W1"]), (
    "train_mlp must not change the params it was given")
print("train_mlp looks right.")
""",
    """
X_tr, y_tr = grading_input("train_X"), grading_input("train_y")
X_va, y_va = grading_input("val_X"), grading_input("val_y")
lr_decay = float(grading_input("train_lr_decay"))
start = init_mlp(X_tr.shape[1], (12,), 3, np.random.default_rng(int(grading_input("train_seed"))))
before = {k: v.copy() for k, v in start.items()}
# One batch per epoch (batch_size = N) and no dropout: the order of the shuffle cannot change
# the result, so every correct train_mlp follows the same curve (to rounding, ~1e-7).
for lr, patience in ((0.1, 2), (0.6, 1)):
    best, hist = train_mlp(start, X_tr, y_tr, X_va, y_va, lr=lr, lr_decay=lr_decay,
                           batch_size=len(X_tr), max_epochs=15, patience=patience, verbose=False)
    key = f"train_mlp.lr{lr}"
    record(f"{key}.val_loss", np.array(hist["val_loss"]), rtol=1e-4)  # stops after `patience`
    record(f"{key}.train_loss", np.array(hist["train_loss"]), rtol=1e-4)  # learns
    record(f"{key}.lr", np.array(hist["lr"]), rtol=1e-9)  # decays once per epoch
    record(f"{key}.best_val", np.array(evaluate(best, X_va, y_va)), rtol=1e-4)  # the best epoch's
assert all(np.array_equal(start[k], before[k]) for k in start), (
    "train_mlp must not change the params it was given (work on a copy)")
record("train_mlp.start_W1", start["W1"], rtol=1e-6)  # still init_mlp's, after training
""",
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Part 5: a hyper-parameter study

Which choices matter? Starting from a **baseline** (one hidden layer of 256 ReLU units, no
dropout, learning rate 0.05), change **one thing at a time**: depth, width, activation, dropout,
learning rate. Every run is logged to `hparam_study.jsonl` (one JSON line per run: its config,
every epoch's numbers, its best epoch) with `helpers.experiments.ExperimentLog`, and the table
below is generated from that log, so the numbers in your report are the numbers you measured.

To keep the study to a couple of minutes, each run trains on the first 20,000 training images
for at most 8 epochs (patience 2) and is scored on the full validation set. The log is started
afresh each time this cell runs. Feel free to add runs.
""")

locked(
    "study",
    """
STUDY_LOG = ExperimentLog("hparam_study.jsonl")
BASELINE = dict(hidden_sizes=(256,), activation="relu", dropout=0.0, lr=0.05)
STUDY = [
    ("baseline", {}),
    ("2 hidden layers", dict(hidden_sizes=(256, 256))),
    ("3 hidden layers", dict(hidden_sizes=(256, 256, 256))),
    ("narrow (64)", dict(hidden_sizes=(64,))),
    ("wide (1024)", dict(hidden_sizes=(1024,))),
    ("leaky ReLU", dict(activation="leaky_relu")),
    ("tanh", dict(activation="tanh")),
    ("GELU", dict(activation="gelu")),
    ("dropout 0.2", dict(dropout=0.2)),
    ("dropout 0.5", dict(dropout=0.5)),
    ("lr 0.01", dict(lr=0.01)),
    ("lr 0.2", dict(lr=0.2)),
]
STUDY_IMAGES, STUDY_EPOCHS, STUDY_PATIENCE = 20_000, 8, 2

NO_DATA = "No training data yet: complete Part 1 (flatten_images, fit_normalizer, normalize)."
if not GRADING and X_train is None:
    print(NO_DATA)
elif not GRADING:
    STUDY_LOG.path.unlink(missing_ok=True)  # a fresh log: the table shows this run's numbers
    study_start = time.perf_counter()
    for run_name, change in STUDY:
        config = {**BASELINE, **change}
        start = time.perf_counter()
        study_params = init_mlp(784, config["hidden_sizes"], 10, np.random.default_rng(SEED))
        _, study_history = train_mlp(
            study_params, X_train[:STUDY_IMAGES], y_train[:STUDY_IMAGES], X_val, y_val,
            activation=config["activation"], dropout=config["dropout"], lr=config["lr"],
            max_epochs=STUDY_EPOCHS, patience=STUDY_PATIENCE, seed=SEED, verbose=False,
        )
        STUDY_LOG.record(study_history, run=run_name, config=config, monitor="val_loss",
                         seconds=time.perf_counter() - start, epochs_planned=STUDY_EPOCHS)
        best = study_history.best("val_loss")
        print(f"{run_name:<16} best val loss {best['val_loss']:.4f} at epoch {best['epoch']}, "
              f"val accuracy {best['val_accuracy']:.4f}  ({time.perf_counter() - start:.0f} s)")
    print(f"study: {time.perf_counter() - study_start:.0f} s")
""",
)

locked(
    "study_table",
    """
if not GRADING:
    if len(STUDY_LOG) == 0:
        print("No runs logged yet: run the study cell above once train_mlp works.")
    else:
        print(ablation_table(STUDY_LOG, metric="val_accuracy", baseline="baseline"))
        print()
        print(ablation_table(STUDY_LOG, metric="val_loss", baseline="baseline"))
""",
)

md(r"""
**Question 1 (study).** Using the two tables above: which single change helped the validation
accuracy most, and which hurt most? Explain each with what you know about depth, width, the
activation's shape, dropout and the step size; say whether the differences are large compared
with what a different random seed would change (about ±0.3 %). Do the loss table and the
accuracy table agree on the ranking? (At least three sentences.)
""")

written(
    "q1_study",
    4,
    """
A model answer depends on the measured table. It should name the best and worst change with
their numbers, explain them (e.g. a too small learning rate has not converged within 8 epochs;
a 0.5 dropout slows down learning in a short run; width helps until the budget of epochs runs
out; tanh saturates; GELU and leaky ReLU behave like ReLU), compare the differences with seed
noise, and note where the loss and accuracy rankings disagree (the loss also punishes confident
mistakes).
""",
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Part 6: the final network

Choose the configuration of your final network from the study (deeper, wider or with dropout
may only pay off with the full training set and more epochs). The autograder does not train:
this cell's run saves the weights to `mlp_weights.npz`, which you submit with the notebook.

The reference solution reaches about 89–90 % validation accuracy with the settings in its
answer cell in about two minutes of CPU; full marks need 88 % on the hidden test set.
""")

answer(
    "final_config",
    """
# A starting point: replace it with the configuration your study suggests.
FINAL_CONFIG = dict(hidden_sizes=(256,), activation="relu", dropout=0.0, lr=0.05, lr_decay=1.0,
                    momentum=0.9, batch_size=256, max_epochs=10, patience=3)
### BEGIN SOLUTION
FINAL_CONFIG = dict(hidden_sizes=(512, 256), activation="relu", dropout=0.2, lr=0.05,
                    lr_decay=0.85, momentum=0.9, batch_size=256, max_epochs=20, patience=4)
### END SOLUTION
""",
)

locked(
    "train_final",
    """
history = None
if GRADING:
    # The autograder does not train: it loads the weights you submitted.
    with np.load(WEIGHTS_FILE, allow_pickle=False) as saved:
        final_params = {k: saved[k] for k in saved.files if k[0] in "Wb" and k[1:].isdigit()}
        final_activation = str(saved["activation"])
        feature_mean, feature_std = saved["feature_mean"], saved["feature_std"]
elif X_train is None:
    print(NO_DATA)
else:
    config = dict(FINAL_CONFIG)
    hidden_sizes, final_activation = tuple(config.pop("hidden_sizes")), config["activation"]
    wall, cpu = time.perf_counter(), time.process_time()
    final_params, history = train_mlp(init_mlp(784, hidden_sizes, 10, np.random.default_rng(SEED)),
                                      X_train, y_train, X_val, y_val, seed=SEED, **config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    val_loss, val_accuracy = evaluate(final_params, X_val, y_val, final_activation)
    print(f"final network: val loss {val_loss:.4f}, val accuracy {val_accuracy:.4f}; "
          f"training took {wall:.0f} s wall, {cpu:.0f} s CPU")
    np.savez(WEIGHTS_FILE, **final_params, activation=np.array(final_activation),
             feature_mean=feature_mean, feature_std=feature_std)
    print(f"saved {WEIGHTS_FILE} ({WEIGHTS_FILE.stat().st_size / 1e6:.1f} MB): submit it with "
          "this notebook")
    ExperimentLog("experiments.jsonl").record(
        history, run="final", config=FINAL_CONFIG, monitor="val_loss", seconds=wall,
        epochs_planned=config["max_epochs"], stopped_early=len(history) < config["max_epochs"],
    )
""",
)

locked(
    "plot_curves",
    """
if not GRADING:
    if history is None:
        print("Nothing to plot yet: train the final network above first.")
    else:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        ax_loss.plot(history["epoch"], history["train_loss"], "o-", label="training (with dropout)")
        ax_loss.plot(history["epoch"], history["val_loss"], "o-", label="validation")
        best = history.best("val_loss")
        ax_loss.axvline(best["epoch"], color="grey", linestyle=":", label="best epoch (kept)")
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
        ax_loss.legend()
        ax_acc.plot(history["epoch"], history["val_accuracy"], "o-", color="C1")
        ax_acc.axvline(best["epoch"], color="grey", linestyle=":")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy")
        plt.show()
""",
)

md(r"""
**Question 2 (learning curves).** Describe the two curves above. At which epoch does the
validation loss stop improving, and what happens to the gap between the training and the
validation loss after that? Why can the training loss (measured *with* dropout, during the
epoch) be higher than the validation loss early on? Did early stopping stop the run, and which
epoch's weights were kept? (At least three sentences.)
""")

written(
    "q2_curves",
    4,
    """
The validation loss falls quickly for the first epochs and flattens out; after its minimum the
training loss keeps falling while the validation loss stalls or rises, so the gap widens: the
network starts to fit the training set more closely than the task. Early on the training loss
can exceed the validation loss because it is averaged over the epoch while the weights still
improve, and because it is measured with dropout switched on. With the learning rate decaying,
the curves flatten; the weights of the epoch with the lowest validation loss are kept.
""",
)

locked(
    "confusion",
    """
if not GRADING and history is not None:
    predicted = mlp_predict(final_params, X_val, final_activation)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_val, predicted), 1)
    per_class = confusion.diagonal() / confusion.sum(axis=1)
    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    image = ax.imshow(confusion / confusion.sum(axis=1, keepdims=True), cmap="Blues")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title="Validation confusion matrix (row-normalised)")
    ax.set_xticklabels(CLASSES, rotation=45, ha="right")
    ax.set_yticklabels(CLASSES)
    fig.colorbar(image, ax=ax)
    plt.show()
    for name, accuracy in sorted(zip(CLASSES, per_class, strict=True), key=lambda t: t[1]):
        print(f"{name:<12} {accuracy:.3f}")
""",
)

md(r"""
**Question 3 (errors).** Which classes does your network confuse most, according to the
confusion matrix? Why are these confusions plausible for a network that sees each image as a
vector of 784 pixels with no notion of neighbouring pixels? What would you try next to reduce
them? (At least three sentences.)
""")

written(
    "q3_errors",
    3,
    """
Shirt is the weakest class, confused with T-shirt/top, Pullover and Coat; Pullover and Coat are
also confused with each other. These garments have the same silhouette at 28 x 28 and differ in
small local details (buttons, collars, texture) that an MLP, which treats pixels as unrelated
features, cannot pick out reliably. A convolutional network (local filters, weight sharing) or
data augmentation would be the next step.
""",
)

# ---------------------------------------------------------------------------------------------
md(r"""
## Predictions for the autograder

When the autograder runs this notebook (`GRADING = True`) it gives the hidden test images in
`DATA_DIR`; this cell normalises them with **your training statistics** (saved in
`mlp_weights.npz`) and writes your network's predictions. Nothing to do here.
""")

locked(
    "predictions",
    """
if GRADING:
    from helpers.data.hidden import read_hidden_inputs

    hidden_ids, hidden_images = read_hidden_inputs(DATA_DIR)
    X_hidden = normalize(flatten_images(hidden_images), feature_mean, feature_std)
    hidden_labels = mlp_predict(final_params, X_hidden, final_activation)
    save_predictions(Path(OUTPUT_DIR) / "mlp_predictions.csv", hidden_ids, hidden_labels)
    print(f"wrote {len(hidden_ids)} predictions")
""",
)


def build() -> nbformat.NotebookNode:
    notebook = new_notebook(cells=CELLS)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def main() -> None:
    notebook = build()
    nbformat.validate(notebook)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in CELLS if "nbgrader" in c.metadata]
    if len(ids) != len(set(ids)):
        sys.exit(f"duplicate grade_id in {ids}")
    NOTEBOOK.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK.relative_to(ROOT)}: {len(CELLS)} cells")


if __name__ == "__main__":
    main()
