"""helpers.data.voc: the reader, on trees the synthetic generator writes and on VOC's own XML."""

import hashlib
import http.server
import shutil
import socket
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from helpers.data.fashion import DataMissingError
from helpers.data.synthetic import SYNTHETIC_CLASSES, make_synthetic_voc, render_scene
from helpers.data.voc import (
    VOC_CLASSES,
    VOC_PALETTE,
    VOCClassification,
    VOCSegmentation,
    download_voc,
    main,
    read_annotation,
)

SEED = 11
N_TRAIN, N_VAL, N_TEST = 12, 4, 4
SIZE = 64

# VOC 2007's own Annotations/000001.xml, trimmed of the fields the reader does not use.
VOC2007_000001 = """<annotation>
\t<folder>VOC2007</folder>
\t<filename>000001.jpg</filename>
\t<size><width>353</width><height>500</height><depth>3</depth></size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>dog</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
\t\t<bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox>
\t</object>
\t<object>
\t\t<name>person</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
\t\t<bndbox><xmin>8</xmin><ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox>
\t</object>
</annotation>
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A small synthetic tree; tests that damage files work on a copy (see ``copy``)."""
    out = tmp_path_factory.mktemp("synthetic") / "VOC2007"
    return make_synthetic_voc(out, seed=SEED, train=N_TRAIN, val=N_VAL, test=N_TEST, size=SIZE)


@pytest.fixture
def copy(tree, tmp_path) -> Path:
    return Path(shutil.copytree(tree, tmp_path / "VOC2007"))


def _multi_hot(objects, difficult="positive"):
    target = np.zeros(len(SYNTHETIC_CLASSES), dtype=np.int64)
    for name, _box, _truncated, is_difficult in objects:
        k = SYNTHETIC_CLASSES.index(name)
        if is_difficult and difficult == "ignore":
            target[k] = target[k] or -1
        else:
            target[k] = 1
    return target


def test_round_trip_gives_back_what_the_generator_drew(tree):
    """Do the reader's labels, boxes, masks and images match the scenes the generator drew?"""
    data = VOCClassification(tree, "train")
    segmentation = VOCSegmentation(tree, "train")
    assert data.classes == SYNTHETIC_CLASSES  # picked up from classes.txt
    assert data.ids == [f"{n:06d}" for n in range(1, N_TRAIN + 1)]
    for index, number in enumerate(range(1, N_TRAIN + 1)):
        image, mask, objects = render_scene(SEED, number, SIZE)
        got_image, target = data[index]
        assert got_image.dtype == torch.float32 and got_image.shape == (3, SIZE, SIZE)
        assert got_image.min() >= 0 and got_image.max() <= 1
        # JPEG is lossy but close: a few grey levels on average (noise textures cost most).
        assert np.abs(got_image.permute(1, 2, 0).numpy() * 255 - image).mean() < 8
        assert target.dtype == torch.int64 and target.tolist() == _multi_hot(objects).tolist()
        annotation = read_annotation(tree / "Annotations" / f"{number:06d}.xml")
        assert [(o.name, o.bbox, o.truncated, o.difficult) for o in annotation.objects] == [
            (name, box, truncated, difficult) for name, box, truncated, difficult in objects
        ]
        _, got_mask = segmentation[index]
        assert got_mask.dtype == torch.int64 and np.array_equal(got_mask.numpy(), mask)


def test_difficult_objects_are_positive_by_default_and_ignored_on_request(copy):
    """Does a class seen only as a difficult object give 1 by default and -1 with "ignore"?"""
    xml = copy / "Annotations" / "000001.xml"
    names = [o.name for o in read_annotation(xml).objects]
    absent = next(c for c in SYNTHETIC_CLASSES if c not in names)
    difficult = (
        f"\t<object>\n\t\t<name>{absent}</name>\n\t\t<difficult>1</difficult>\n"
        "\t\t<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>\n"
        "\t</object>\n</annotation>"
    )
    xml.write_text(xml.read_text().replace("</annotation>", difficult))
    k = SYNTHETIC_CLASSES.index(absent)
    assert VOCClassification(copy, "train")[0][1][k] == 1
    ignoring = VOCClassification(copy, "train", difficult="ignore")
    assert ignoring[0][1][k] == -1
    # A class that also has a non-difficult object stays positive.
    assert ignoring.labels[0][SYNTHETIC_CLASSES.index(names[0])] == 1


def test_real_voc_xml_reads_with_the_20_classes(tmp_path):
    """Does VOC 2007's own annotation give the dog and person columns of the 20 VOC classes?"""
    voc = tmp_path / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "ImageSets/Main", "JPEGImages"):
        (voc / sub).mkdir(parents=True)
    (voc / "Annotations" / "000001.xml").write_text(VOC2007_000001)
    (voc / "ImageSets" / "Main" / "train.txt").write_text("000001\n")
    Image.new("RGB", (353, 500), (10, 20, 30)).save(voc / "JPEGImages" / "000001.jpg")

    data = VOCClassification(tmp_path, "train")  # torchvision's root: VOCdevkit/VOC2007 inside
    image, target = data[0]
    assert data.classes == VOC_CLASSES and len(VOC_CLASSES) == 20
    assert image.shape == (3, 500, 353)
    assert [VOC_CLASSES[k] for k in np.flatnonzero(target.numpy())] == ["dog", "person"]
    dog = read_annotation(voc / "Annotations" / "000001.xml").objects[0]
    assert dog.bbox == (48, 240, 195, 371) and dog.truncated and not dog.difficult


def test_masks_are_palette_pngs_in_vocs_colours(tree):
    """Are the masks palette PNGs whose colours are VOC's, so VOC's own tools show them right?"""
    png = Image.open(next((tree / "SegmentationClass").glob("*.png")))
    assert png.mode == "P"
    palette = png.getpalette()
    assert palette[:768] == VOC_PALETTE
    # VOC's colour map: aeroplane (1) dark red, person (15) pink, ignore (255) cream.
    assert VOC_PALETTE[3:6] == [128, 0, 0]
    assert VOC_PALETTE[45:48] == [192, 128, 128]
    assert VOC_PALETTE[765:768] == [224, 224, 192]


def test_segmentation_transforms_move_image_and_mask_together(tree):
    """Does a joint flip flip the mask too, and does the mask keep its integer labels?"""
    plain = VOCSegmentation(tree, "val")
    flipped = VOCSegmentation(tree, "val", transforms=v2.RandomHorizontalFlip(p=1.0))
    (image, mask), (image_f, mask_f) = plain[1], flipped[1]
    assert torch.equal(mask_f, mask.flip(-1)) and mask_f.dtype == torch.int64
    assert torch.equal(image_f, image.flip(-1))
    assert type(mask_f) is torch.Tensor  # tv_tensors unwrapped


def test_classification_transform_sees_the_image_tensor(tree):
    """Is transform applied to the float image and the target left alone?"""
    data = VOCClassification(tree, "test", transform=v2.Resize((32, 32), antialias=True))
    image, target = data[0]
    assert image.shape == (3, 32, 32) and target.shape == (len(SYNTHETIC_CLASSES),)


def test_unknown_split_or_policy_lists_the_valid_values(tree):
    """Is a typo in split or difficult answered with the valid values?"""
    with pytest.raises(ValueError, match=r"Unknown value 'tset' for argument split\. Valid values"):
        VOCClassification(tree, "tset")
    with pytest.raises(ValueError, match=r"argument difficult\. Valid values are \{'positive'"):
        VOCClassification(tree, "train", difficult="hard")


def test_missing_tree_says_where_it_looked_and_how_to_get_it(tmp_path):
    """Does a wrong root name both places looked and the commands that get the data?"""
    with pytest.raises(DataMissingError) as info:
        VOCClassification(tmp_path / "nowhere", "train")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "JPEGImages") in message
    assert str(tmp_path / "nowhere" / "VOCdevkit" / "VOC2007" / "JPEGImages") in message
    assert "python -m helpers.data.voc" in message and "python -m helpers.data.synthetic" in message


def test_missing_split_list_names_the_file_and_the_splits_there_are(copy):
    """Does a missing split list name the file, the splits the tree has and what to do?"""
    (copy / "ImageSets" / "Main" / "val.txt").unlink()
    with pytest.raises(DataMissingError, match=r"Split list .*Main/val\.txt is missing") as info:
        VOCClassification(copy, "val")
    assert "['test', 'train', 'trainval']" in str(info.value)
    assert "Pick one of those" in str(info.value)


def test_missing_test_split_says_it_comes_in_its_own_tar(copy):
    """Is the VOC 2007 test tar named when the test list is missing?"""
    (copy / "ImageSets" / "Main" / "test.txt").unlink()
    with pytest.raises(DataMissingError, match=r"test split comes in its own tar: .*--image-set"):
        VOCClassification(copy, "test")


def test_truncated_xml_names_the_file_and_the_fix(copy):
    """Does a truncated annotation give its path, 'not valid XML' and how to get a good one?"""
    xml = copy / "Annotations" / "000002.xml"
    xml.write_bytes(xml.read_bytes()[:150])
    with pytest.raises(DataMissingError, match=r"000002\.xml is not valid XML") as info:
        VOCClassification(copy, "train")
    assert "Extract the VOC archive again" in str(info.value)
    assert "python -m helpers.data.synthetic" in str(info.value)


def test_xml_without_a_box_names_the_field(copy):
    """Does an object without <bndbox> say which fields VOC annotations need?"""
    xml = copy / "Annotations" / "000003.xml"
    text = xml.read_text()
    start, stop = text.index("<bndbox>"), text.index("</bndbox>") + len("</bndbox>")
    xml.write_text(text[:start] + text[stop:])
    with pytest.raises(DataMissingError, match=r"000003\.xml lacks a field .*<bndbox>"):
        VOCClassification(copy, "train")


def test_truncated_jpeg_names_the_file_and_the_fix(copy):
    """Does a truncated JPEG name the file when it is read, and say what to do?"""
    jpeg = copy / "JPEGImages" / "000004.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:400])
    data = VOCClassification(copy, "train")
    data[0]  # the other images still read
    with pytest.raises(DataMissingError, match=r"000004\.jpg cannot be decoded") as info:
        data[3]
    assert "Extract the VOC archive again" in str(info.value)


def test_missing_jpeg_is_reported_when_the_dataset_opens(copy):
    """Does a listed image that is missing fail at once, naming it?"""
    (copy / "JPEGImages" / "000005.jpg").unlink()
    with pytest.raises(DataMissingError, match=r"1 file\(s\) listed by split 'train' are missing"):
        VOCClassification(copy, "train")


def test_unknown_class_in_an_annotation_says_how_to_fix_it(copy):
    """Does an object of a class outside the class list name the class and the classes= fix?"""
    with pytest.raises(DataMissingError, match=r"names the class '.*', which is not one of the 20"):
        VOCClassification(copy, "train", classes=VOC_CLASSES)


def test_colour_mask_is_refused_with_a_reason(copy):
    """Does a mask saved as RGB (colours, not indices) say what is wrong?"""
    png = copy / "SegmentationClass" / "000001.png"
    Image.open(png).convert("RGB").save(png)
    with pytest.raises(DataMissingError, match=r"000001\.png is a RGB image, but VOC masks are"):
        VOCSegmentation(copy, "train")[0]


def _tar_of(tree: Path, tmp_path: Path, name: str) -> tuple[Path, str]:
    """A VOC-style tar of ``tree`` (VOCdevkit/VOC2007/...) and its MD5."""
    tar_path = tmp_path / name
    with tarfile.open(tar_path, "w") as tar:
        tar.add(tree, arcname="VOCdevkit/VOC2007")
    return tar_path, hashlib.md5(tar_path.read_bytes()).hexdigest()


def test_local_archive_is_checked_then_extracted(tree, tmp_path):
    """Does a local tar with the expected MD5 extract into a tree the reader reads?"""
    tar_path, md5 = _tar_of(tree, tmp_path, "VOCtrainval_06-Nov-2007.tar")
    voc_dir = download_voc(tmp_path / "root", archive=tar_path, md5=md5)
    assert voc_dir == tmp_path / "root" / "VOCdevkit" / "VOC2007"
    assert len(VOCClassification(tmp_path / "root", "trainval")) == N_TRAIN + N_VAL


def test_wrong_checksum_is_refused_before_extracting(tree, tmp_path):
    """Is an archive whose MD5 is not the official one refused, with both sums and the fix?"""
    tar_path, md5 = _tar_of(tree, tmp_path, "VOCtrainval_06-Nov-2007.tar")
    with pytest.raises(DataMissingError) as info:
        download_voc(tmp_path / "root", archive=tar_path)  # the official MD5 is expected
    message = str(info.value)
    assert f"has MD5 {md5}, but VOCtrainval_06-Nov-2007.tar has MD5 c52e2795" in message
    assert "delete it and download it again" in message
    assert not (tmp_path / "root" / "VOCdevkit").exists()


@pytest.fixture
def mirror(tree, tmp_path):
    """A local HTTP server holding a VOC-named tar, standing in for a mirror."""
    served = tmp_path / "mirror"
    served.mkdir()
    _, md5 = _tar_of(tree, served, "VOCtest_06-Nov-2007.tar")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", md5
    server.shutdown()
    server.server_close()


def test_mirror_download_is_checked_then_extracted(mirror, tmp_path):
    """Does a mirror URL download the official file name, verify it and extract it?"""
    url, md5 = mirror
    voc_dir = download_voc(tmp_path / "root", image_set="test", mirror=url, md5=md5)
    assert (voc_dir / "ImageSets" / "Main" / "test.txt").is_file()
    assert len(VOCSegmentation(tmp_path / "root", "test")) == N_TEST


def test_mirror_with_a_bad_file_is_refused(mirror, tmp_path):
    """Does a download whose MD5 differs say so and leave nothing extracted?"""
    url, _ = mirror
    with pytest.raises(DataMissingError, match=r"VOCtest_06-Nov-2007\.tar has MD5 b6e924de"):
        download_voc(tmp_path / "root", image_set="test", mirror=url)
    assert not (tmp_path / "root" / "VOCdevkit").exists()


def test_unreachable_server_suggests_a_mirror_or_a_local_tar(tmp_path):
    """Does a failed download say the official server is often down and what to pass instead?"""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataMissingError, match=r"official VOC server is often down: pass mirror="):
        download_voc(tmp_path, mirror=f"http://127.0.0.1:{port}/voc")


def test_download_choices_are_checked(tmp_path):
    """Is a test archive asked for a year that has none refused with the valid values?"""
    with pytest.raises(ValueError, match=r"Unknown value 'test' for argument image_set"):
        download_voc(tmp_path, year="2012", image_set="test")


def test_cli_extracts_a_local_archive_and_reports_errors(tree, tmp_path, capsys):
    """Does `python -m helpers.data.voc --archive` extract, and exit 1 with a message on error?"""
    tar_path, _ = _tar_of(tree, tmp_path, "VOCtrainval_06-Nov-2007.tar")
    assert main(["--root", str(tmp_path / "r"), "--archive", str(tar_path)]) == 1
    assert "error: Archive" in capsys.readouterr().err  # not the official MD5
    assert main(["--root", str(tmp_path / "r"), "--archive", str(tmp_path / "none.tar")]) == 1
    assert "none.tar does not exist" in capsys.readouterr().err


def test_download_true_leaves_a_tree_that_is_there_alone(tree):
    """Does download=True use the tree on disk instead of fetching (and failing offline)?"""
    assert len(VOCClassification(tree, "train", download=True)) == N_TRAIN
