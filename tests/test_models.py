"""The reference networks: shapes as the assignments describe them, heads, freezing, and the
pretrained-weights path through torchvision's cache (no network: the tests place checkpoints)."""

import urllib.error

import pytest
import torch
import torchvision

from helpers.models import (
    RESNET18_IMAGENET,
    PretrainedWeightsError,
    alexnet,
    base_net,
    checkpoint_folder,
    fcn_resnet18,
    freeze_all_but,
    parameter_counts,
    resnet18,
    simple_classifier,
    unfreeze,
)

RESNET18_FILE = "resnet18-f37072fd.pth"


def test_simple_classifier_shapes_follow_the_assignment():
    """Does SimpleClassifier turn (N, 3, 227, 227) into 16x26x26 features, feed them to a
    16*26*26 -> 120 -> 84 -> classes head and give (N, classes)?"""
    model = simple_classifier(num_classes=20)
    x = torch.zeros(2, 3, 227, 227)
    assert model.features(x).shape == (2, 16, 26, 26)
    widths = [
        (m.in_features, m.out_features) for m in model.classifier if isinstance(m, torch.nn.Linear)
    ]
    assert widths == [(16 * 26 * 26, 120), (120, 84), (84, 20)]
    convs = [
        (m.in_channels, m.out_channels, m.kernel_size)
        for m in model.features
        if isinstance(m, torch.nn.Conv2d)
    ]
    assert convs == [(3, 64, (5, 5)), (64, 32, (3, 3)), (32, 16, (3, 3))]
    assert model(x).shape == (2, 20)


def test_simple_classifier_explains_a_wrong_image_size():
    """Does a 224x224 batch get an error naming the size it needs?"""
    with pytest.raises(
        ValueError, match=r"expects images of shape \(N, 3, 227, 227\), got \(1, 3, 224, 224\)"
    ):
        simple_classifier()(torch.zeros(1, 3, 224, 224))


def test_base_net_shapes_follow_the_assignment():
    """Does BaseNet turn (N, 1, 28, 28) into 12x4x4 = 192 features, then 12, then 10 logits?"""
    model = base_net()
    x = torch.zeros(3, 1, 28, 28)
    assert model.features(x).shape == (3, 12, 4, 4)
    assert [(m.in_features, m.out_features) for m in model.classifier[::2]] == [(192, 12), (12, 10)]
    assert [(m.in_channels, m.out_channels) for m in model.features[::3]] == [(1, 6), (6, 12)]
    assert model(x).shape == (3, 10)
    with pytest.raises(ValueError, match=r"needs a batch axis \(x\[None\]\)"):
        model(torch.zeros(1, 28, 28))


@pytest.mark.parametrize("builder", [alexnet, resnet18])
def test_torchvision_models_get_a_head_for_the_classes(builder):
    """Do alexnet and resnet18 output one logit per requested class?"""
    model = builder(num_classes=7)
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 7)
    assert model.pretrained_weights is None


@pytest.mark.parametrize("size", [(64, 64), (70, 90)])
def test_fcn_output_has_the_input_resolution(size):
    """Does FCN-ResNet18 give one score map per class at the input's height and width, even
    when they are not multiples of 32?"""
    model = fcn_resnet18(num_classes=5).eval()
    assert model(torch.zeros(1, 3, *size)).shape == (1, 5, *size)


def test_freeze_all_but_leaves_only_the_named_parts_trainable():
    """After freeze_all_but(model, 'fc'), does one optimiser step change the head only?"""
    model = resnet18(num_classes=3)
    names = freeze_all_but(model, "fc")
    assert names == ["fc.weight", "fc.bias"]
    assert parameter_counts(model) == {"trainable": 512 * 3 + 3, "total": 11_178_051}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=0.1)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    after = model.state_dict()
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert torch.equal(before["layer4.1.conv2.weight"], after["layer4.1.conv2.weight"])
    unfreeze(model)
    assert parameter_counts(model)["trainable"] == 11_178_051


def test_freeze_all_but_names_the_parts_a_model_has():
    """Does a wrong part name get an error listing the model's top-level parts?"""
    with pytest.raises(ValueError, match=r"no submodule named 'head'.*conv1, bn1, relu"):
        freeze_all_but(resnet18(num_classes=3), "head")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torchvision cache, and no downloading: any attempt fails as it would offline
    (so no test can wait on the network)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path


def place_resnet18_checkpoint(torch_home):
    """A randomly initialised ResNet-18 saved where torchvision caches the ImageNet weights."""
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    state = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(state, folder / RESNET18_FILE)
    return state


def test_cached_checkpoint_is_loaded_into_resnet18(torch_home):
    """With the weight file in $TORCH_HOME/hub/checkpoints, does resnet18(pretrained=True) load
    it (backbone equal to the file) and give a fresh head for the classes?"""
    saved = place_resnet18_checkpoint(torch_home)
    assert checkpoint_folder() == torch_home / "hub" / "checkpoints"
    model = resnet18(num_classes=5, pretrained=True)
    loaded = model.state_dict()
    backbone = [k for k in saved if not k.startswith("fc.")]
    assert all(torch.equal(loaded[k], saved[k]) for k in backbone)
    assert loaded["fc.weight"].shape == (5, 512)
    assert model.pretrained_weights is RESNET18_IMAGENET


def test_cached_checkpoint_is_loaded_into_the_fcn_backbone(torch_home):
    """Does fcn_resnet18(pretrained_backbone=True) start its backbone from the cached file?"""
    saved = place_resnet18_checkpoint(torch_home)
    model = fcn_resnet18(num_classes=4, pretrained_backbone=True)
    backbone = model.backbone.state_dict()
    assert torch.equal(backbone["layer3.0.conv1.weight"], saved["layer3.0.conv1.weight"])
    assert torch.equal(backbone["bn1.running_var"], saved["bn1.running_var"])


def test_offline_without_the_file_names_the_file_and_the_folder(torch_home):
    """With no network and an empty cache, does the error name the file, the folder and the
    URL to fetch it from?"""
    folder = torch_home / "hub" / "checkpoints"
    with pytest.raises(PretrainedWeightsError) as caught:
        resnet18(num_classes=5, pretrained=True)
    message = str(caught.value)
    assert f"need the file {RESNET18_FILE}, which is not in {folder}" in message
    assert f"copy it to {folder / RESNET18_FILE}" in message
    assert RESNET18_IMAGENET.url in message
    assert "pretrained=False" in message


def test_a_broken_cached_file_says_to_delete_it(torch_home):
    """Does a truncated file in the cache get an error saying to delete it?"""
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / RESNET18_FILE).write_bytes(b"partial download")
    with pytest.raises(PretrainedWeightsError, match=r"cannot be read .* delete .*resnet18-"):
        resnet18(num_classes=5, pretrained=True)


def test_a_cached_file_of_another_network_is_refused(torch_home):
    """Does a file holding another network's tensors get a clear error, not a key dump?"""
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(base_net().state_dict(), folder / RESNET18_FILE)
    with pytest.raises(PretrainedWeightsError, match=r"does not hold the weights of ResNet18"):
        resnet18(num_classes=5, pretrained=True)


def test_weights_carry_their_source_and_reference_score():
    """Does the ResNet-18 card give the file, the URL and ImageNet top-1 from torchvision?"""
    meta = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta
    assert RESNET18_IMAGENET.metrics == meta["_metrics"]
    assert RESNET18_IMAGENET.file_name == RESNET18_FILE
    assert "acc@1 69.758%" in str(RESNET18_IMAGENET)
    assert RESNET18_IMAGENET.transforms().crop_size == [224]
