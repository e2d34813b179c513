"""The kit's own pretrained ResNet-18: chosen through resnet18(weights=...), checked against its
SHA-256, refused with a clear message when missing, edited or hostile, never silently random."""

import dataclasses
import hashlib
import os
import urllib.error

import pytest
import torch
import torchvision

from helpers.models import (
    RESNET18_IMAGENET,
    RESNET18_KIT,
    PretrainedWeightsError,
    base_net,
    fcn_resnet18,
    kit_backbone,
    resnet18,
)
from helpers.models.backbone_weights import choose_weights

REBUILD = "python -m helpers.models.pretrain_kit_backbone"


def backbone_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random ResNet-18 backbone as the kit saves it: no fc, half precision."""
    torch.manual_seed(seed)
    state = torchvision.models.resnet18(weights=None).state_dict()
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items() if "fc." not in k}


def card_for(path, **changes) -> kit_backbone.KitWeightsInfo:
    """RESNET18_KIT pointed at ``path`` with that file's SHA-256 (as if the kit had built it)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    fields = {"folder": path.parent, "file_name": path.name, "sha256": digest} | changes
    return dataclasses.replace(RESNET18_KIT, **fields)


@pytest.fixture
def kit_file(tmp_path):
    """A well-formed kit weight file and its card."""
    path = tmp_path / "weights" / "resnet18_kit_test.pt"
    path.parent.mkdir()
    state = backbone_state()
    torch.save(state, path)
    return card_for(path), state


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty torchvision cache; any download fails as it would offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_kit_weights_start_the_backbone_and_leave_a_fresh_head(kit_file):
    """Does resnet18(weights=card) hold the file's tensors (as float32) everywhere but fc, with
    a new head of num_classes outputs, and name its card?"""
    card, saved = kit_file
    model = resnet18(num_classes=5, weights=card)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v.float() if v.is_floating_point() else v)
               for k, v in saved.items())  # fmt: skip
    assert loaded["layer4.1.bn2.weight"].dtype == torch.float32
    assert loaded["fc.weight"].shape == (5, 512)
    assert model.pretrained_weights is card
    assert model(torch.zeros(2, 3, 80, 80)).shape == (2, 5)


def test_kit_weights_start_the_fcn_backbone(kit_file):
    """Does fcn_resnet18(backbone_weights=card) start its backbone from the file?"""
    card, saved = kit_file
    model = fcn_resnet18(num_classes=4, backbone_weights=card)
    backbone = model.backbone.state_dict()
    assert torch.equal(backbone["layer3.0.conv1.weight"], saved["layer3.0.conv1.weight"].float())
    assert torch.equal(backbone["bn1.running_var"], saved["bn1.running_var"].float())
    assert model.pretrained_weights is card


def test_the_names_choose_the_cards(kit_file, offline_cache, monkeypatch):
    """Do "kit" and "auto" (ImageNet's file not cached) give the kit's card, "imagenet" and
    pretrained=True ImageNet's, None random?"""
    card, _ = kit_file
    monkeypatch.setattr(kit_backbone, "RESNET18_KIT", card)
    assert resnet18(num_classes=3, weights="kit").pretrained_weights is card
    assert resnet18(num_classes=3, weights="auto").pretrained_weights is card
    assert fcn_resnet18(num_classes=3, backbone_weights="auto").pretrained_weights is card
    assert choose_weights("imagenet") is RESNET18_IMAGENET
    assert choose_weights(None, pretrained=True) is RESNET18_IMAGENET
    assert choose_weights(None) is None


def test_auto_takes_imagenet_when_its_file_is_cached(kit_file, offline_cache, monkeypatch):
    """With ImageNet's file in torchvision's cache, does "auto" load it rather than the kit's?"""
    card, _ = kit_file
    monkeypatch.setattr(kit_backbone, "RESNET18_KIT", card)
    offline_cache.mkdir(parents=True)
    saved = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(saved, offline_cache / RESNET18_IMAGENET.file_name)
    model = resnet18(num_classes=3, weights="auto")
    assert model.pretrained_weights is RESNET18_IMAGENET
    assert torch.equal(model.state_dict()["layer2.0.conv1.weight"], saved["layer2.0.conv1.weight"])


def test_auto_never_falls_back_to_random_weights(tmp_path, offline_cache, monkeypatch):
    """With neither ImageNet's file nor the kit's, does "auto" raise (naming the kit's file)
    instead of quietly training from random weights?"""
    missing = dataclasses.replace(RESNET18_KIT, folder=tmp_path / "nowhere", sha256="0" * 64)
    monkeypatch.setattr(kit_backbone, "RESNET18_KIT", missing)
    with pytest.raises(PretrainedWeightsError, match=r"resnet18_kit_shapes_v1\.pt is missing"):
        resnet18(num_classes=3, weights="auto")


def test_a_missing_kit_file_names_the_file_folder_and_the_commands(tmp_path):
    """Does a missing file get an error with the file, the folder, how to restore it and the
    command that rebuilds it?"""
    card = dataclasses.replace(RESNET18_KIT, folder=tmp_path, sha256="0" * 64)
    with pytest.raises(PretrainedWeightsError) as caught:
        resnet18(num_classes=3, weights=card)
    message = str(caught.value)
    assert f"{card.file_name} is missing from {tmp_path}" in message
    assert f"git checkout -- helpers/models/weights/{card.file_name}" in message
    assert REBUILD in message and "weights=None" in message


def test_an_edited_kit_file_is_refused_by_its_sha256(kit_file):
    """Is a file whose bytes differ from the card's SHA-256 (one byte flipped, loadable or not)
    refused with both digests and the rebuild command?"""
    card, _ = kit_file
    data = bytearray(card.path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside a tensor's bytes: torch.load alone would not notice
    card.path.write_bytes(bytes(data))
    edited = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(PretrainedWeightsError) as caught:
        resnet18(num_classes=3, weights=card)
    message = str(caught.value)
    assert f"SHA-256 should be {card.sha256}, the file has {edited}" in message
    assert str(card.path) in message and REBUILD in message


def test_a_kit_file_that_would_run_code_is_refused_even_with_a_matching_sha256(tmp_path):
    """A pickle whose loading runs a command, under a card that names its SHA-256: does the
    loader refuse it without running the command (weights_only=True)?"""
    ran = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {ran}",))

    path = tmp_path / "hostile.pt"
    torch.save({"conv1.weight": Payload()}, path)
    with pytest.raises(PretrainedWeightsError, match=r"torch\.load cannot read it"):
        resnet18(num_classes=3, weights=card_for(path))
    assert not ran.exists()


def test_a_kit_file_of_another_network_is_refused(tmp_path):
    """Does a checksummed file of another network's tensors get a clear error, not a key dump?"""
    path = tmp_path / "other.pt"
    torch.save(base_net().state_dict(), path)
    with pytest.raises(PretrainedWeightsError, match=r"does not hold a ResNet-18 backbone"):
        resnet18(num_classes=3, weights=card_for(path))


def test_a_kit_file_that_is_not_a_state_dict_is_refused(tmp_path):
    """Does a checksummed file holding a list (no tensors by name) get a clear error?"""
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(3)], path)
    with pytest.raises(PretrainedWeightsError, match=r"should hold a state dict.*holds a list"):
        resnet18(num_classes=3, weights=card_for(path))


def test_an_oversized_kit_file_is_refused_unread(kit_file, monkeypatch):
    """Is a file over the size bound refused before its bytes are hashed or unpickled?"""
    card, _ = kit_file
    monkeypatch.setattr(kit_backbone, "MAX_FILE_BYTES", 1024)
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))
    with pytest.raises(PretrainedWeightsError, match=r"the file has over 0 MiB"):
        resnet18(num_classes=3, weights=card)
    assert loads == []


def test_an_unbuilt_card_says_how_to_build_it(tmp_path):
    """Does a card without a SHA-256 (the file not built yet) say so and give the command?"""
    card = dataclasses.replace(RESNET18_KIT, folder=tmp_path, sha256="")
    with pytest.raises(PretrainedWeightsError, match=rf"not built .* `{REBUILD} --out"):
        resnet18(num_classes=3, weights=card)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: resnet18(num_classes=3, weights="imagenet1k"),
         r"Unknown value 'imagenet1k' for argument weights\. Valid values are None, 'imagenet', "
         r"'kit', 'auto'"),
        (lambda: fcn_resnet18(num_classes=3, backbone_weights=True),
         r"Unknown value True for argument backbone_weights"),
        (lambda: resnet18(num_classes=3, weights="kit", pretrained=True),
         r"pretrained=True means weights='imagenet', but weights='kit' was given too"),
    ],
)  # fmt: skip
def test_a_wrong_weights_choice_names_the_valid_ones(call, match):
    """Does an unknown name, or pretrained=True with other weights, say what is valid?"""
    with pytest.raises(ValueError, match=match):
        call()


def test_the_card_says_what_it_is_and_how_to_prepare_images(kit_file):
    """Does the card print its name, task, size, score and digest, and do its transforms give
    normalised float (3, S, S) images from uint8 ones of another size?"""
    card, _ = kit_file
    card = dataclasses.replace(card, metrics={"kit shapes held-out": {"mAP": 91.5}})
    text = str(card)
    assert text.startswith("kit:resnet18_shapes_v1: ResNet-18 pretrained on ")
    assert f"at {card.image_size} x {card.image_size} px" in text
    assert "kit shapes held-out mAP 91.5%" in text and card.sha256[:12] in text
    image = torch.full((3, 128, 128), 255, dtype=torch.uint8)
    out = card.transforms()(image)
    assert out.shape == (3, card.image_size, card.image_size) and out.dtype == torch.float32
    expected = (1 - torch.tensor(card.mean)) / torch.tensor(card.std)
    assert torch.allclose(out[:, 0, 0], expected)
    assert torch.allclose(card.normalize(torch.ones(3, 4, 4))[:, 0, 0], expected)


def test_the_imagenet_card_gives_its_normalisation_too():
    """Can a notebook use model.pretrained_weights.normalize whichever weights it got?"""
    assert RESNET18_IMAGENET.mean == (0.485, 0.456, 0.406)
    assert RESNET18_IMAGENET.image_size == 224
    assert RESNET18_IMAGENET.normalize.std == [0.229, 0.224, 0.225]


def test_the_pretraining_command_writes_a_file_the_loader_accepts(tmp_path, capsys):
    """Does a tiny pretraining run write a half-precision, fc-less state dict whose printed
    SHA-256 makes a card that resnet18(weights=...) loads, and is a second run byte-identical?"""
    from helpers.models.pretrain_kit_backbone import main

    argv = ["--images", "6", "--epochs", "1", "--val", "6", "--size", "32", "--batch-size", "4"]
    assert main(["--out", str(tmp_path / "a.pt"), *argv]) == 0
    out = capsys.readouterr().out
    digest = hashlib.sha256((tmp_path / "a.pt").read_bytes()).hexdigest()
    assert f"sha256 {digest}" in out and "held-out mAP" in out and "load average" in out
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    assert not any(k.startswith("fc.") for k in state)
    assert state["conv1.weight"].dtype == torch.float16
    model = resnet18(num_classes=8, weights=card_for(tmp_path / "a.pt"))
    assert torch.equal(model.state_dict()["conv1.weight"], state["conv1.weight"].float())
    assert main(["--out", str(tmp_path / "b.pt"), *argv]) == 0
    assert (tmp_path / "b.pt").read_bytes() == (tmp_path / "a.pt").read_bytes()


def test_pretraining_scenes_keep_every_object_in_view_when_zoomed():
    """Is a zoomed pretraining scene's square inside the image and around every object's box,
    so its multi-label targets stay exact?"""
    import numpy as np

    from helpers.data.scenes import PRETRAIN_CLASSES, render_scene
    from helpers.models.pretrain_kit_backbone import SCENE_SIZE, _zoom_box

    rng = np.random.default_rng(0)
    for number in range(1, 41):
        _, _, objects = render_scene(7, number, SCENE_SIZE, classes=PRETRAIN_CLASSES)
        left, top, side = _zoom_box(objects, rng)
        assert min(left, top) >= 0 and max(left, top) + side <= SCENE_SIZE
        for _, (xmin, ymin, xmax, ymax), _, _ in objects:
            assert left <= xmin - 1 and xmax <= left + side
            assert top <= ymin - 1 and ymax <= top + side


def test_the_shipped_kit_file_is_the_one_its_card_names():
    """Is helpers/models/weights/<file> in place, under 25 MB, with the card's SHA-256, and does
    weights="kit" load it into a network that gives finite outputs?"""
    assert RESNET18_KIT.path.is_file(), f"{RESNET18_KIT.path} is missing"
    data = RESNET18_KIT.path.read_bytes()
    assert len(data) <= 25 * 10**6
    assert hashlib.sha256(data).hexdigest() == RESNET18_KIT.sha256
    model = resnet18(num_classes=8, weights="kit").eval()
    assert model.pretrained_weights is RESNET18_KIT
    images = torch.rand(2, 3, RESNET18_KIT.image_size, RESNET18_KIT.image_size)
    with torch.no_grad():
        assert torch.isfinite(model(RESNET18_KIT.normalize(images))).all()
    assert "mAP" in str(RESNET18_KIT) and RESNET18_KIT.sha256[:12] in str(RESNET18_KIT)


def test_the_student_wheel_carries_the_kit_file(tmp_path):
    """Does the wheel students install hold the kit's weight file, byte for byte, and nothing
    the wheel check calls an instructor file?"""
    import zipfile

    from autograder.student_wheel import build_student_wheel, instructor_files

    wheel = build_student_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read(f"helpers/models/weights/{RESNET18_KIT.file_name}")
    assert hashlib.sha256(shipped).hexdigest() == RESNET18_KIT.sha256
    assert instructor_files(wheel) == []
