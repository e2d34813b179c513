"""The reference solution's ``MyNet``: the source notebook's ``my_net`` answer cell holds this
class (from its ``class`` line to the end) character for character, and ``train_reference.py``
trains it, so the notebook's class and the committed weights cannot drift apart
(``tests/test_a3_multilabel_voc.py`` checks both copies are one text; edit both together).
The nbgrader markers are comments here and take effect in the notebook."""

from torch import nn

__all__ = ["MyNet"]


class MyNet(nn.Module):
    """Your own network for multi-label classification: one logit per class.

    Input: float32 (N, 3, S, S) with S = IMAGE_SIZE, normalised with MEAN and STD.
    Output: float32 (N, num_classes) logits (no sigmoid: the loss applies it).

    Write __init__(self, num_classes, <your options>) and forward(self, x). Each option you
    ablate is a keyword argument whose default is your final choice, so that
    MyNet(num_classes=len(CLASSES)) builds the network you submit. No pretrained weights.
    """

    ### BEGIN SOLUTION
    # Four 3x3 convolution blocks with batch norm, each halving the image (64 -> 32 -> 16 -> 8
    # -> 4 at the default size), then global average pooling: the head sees one number per
    # channel whatever the image size, so the same network runs at 64 or 227 pixels.
    # Options: width (channels of the first block, then 2x, 4x, 4x), batch_norm, dropout,
    # pooling ("avg": global average, "max": global max).
    def __init__(self, num_classes, width=32, batch_norm=True, dropout=0.2, pooling="avg"):
        super().__init__()  # registers the layers below with nn.Module

        def block(c_in, c_out):
            layers = [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=not batch_norm)]
            if batch_norm:  # batch norm's shift does the bias's job
                layers.append(nn.BatchNorm2d(c_out))
            return nn.Sequential(*layers, nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.features = nn.Sequential(
            block(3, width),
            block(width, 2 * width),
            block(2 * width, 4 * width),
            block(4 * width, 4 * width),
        )
        pool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Sequential(
            pool, nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * width, num_classes)
        )

    def forward(self, images):
        # (N, 3, S, S) -> (N, 4 * width, S / 16, S / 16) -> (N, 4 * width) -> (N, num_classes)
        return self.classifier(self.features(images))

    ### END SOLUTION
