"""Tests for firstneuron.data (loaders, folder format, CelebA, CLI) and firstneuron.plotting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

import course  # noqa: E402
from firstneuron import data as fd  # noqa: E402
from firstneuron import plotting  # noqa: E402
from firstneuron.data import (  # noqa: E402
    DataError,
    export_image_folder,
    load_celeba,
    load_dataset,
    load_image_folder,
)

REPO = course.REPO


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def faces():
    return load_dataset("faces")


def write_folder(folder, rows, images, classes=None, header="split,file,label"):
    """Write images (name -> ndarray) and labels.csv rows (list of str lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in images.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(p)
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    if classes is not None:
        (folder / "classes.txt").write_text(classes, encoding="utf-8")
    return folder


def grey(value, h=6, w=5):
    return np.full((h, w), value, dtype=np.uint8)


def rgb(value, h=6, w=5):
    rng = np.random.default_rng(value)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def ok_grey_folder(tmp_path, **kw):
    images = {"a.png": grey(10), "b.png": grey(200), "c.png": grey(50)}
    rows = ["train,a.png,0", "train,b.png,1", "test,c.png,1"]
    return write_folder(tmp_path / "ds", rows, images, **kw)


def data_error(func, *args, **kwargs):
    with pytest.raises(DataError) as info:
        func(*args, **kwargs)
    return info.value, str(info.value)


def assert_mentions(msg, *parts):
    for part in parts:
        assert str(part) in msg, f"expected the error message to mention {part!r}, found: {msg!r}"


def assert_same_dataset(a, b):
    names = ("train_x_orig", "train_y", "test_x_orig", "test_y")
    for name, x, y in zip(names, a[:4], b[:4]):
        assert x.dtype == y.dtype, f"{name}: expected dtype {x.dtype}, found {y.dtype}"
        assert x.shape == y.shape, f"{name}: expected shape {x.shape}, found {y.shape}"
        assert np.array_equal(x, y), f"{name}: arrays differ after the round trip"
    assert tuple(a[4]) == tuple(b[4]), f"classes: expected {a[4]}, found {b[4]}"


# ---------------------------------------------------------------- faces


def test_faces_shapes_dtypes_classes(faces):
    train_x, train_y, test_x, test_y, classes = faces
    expected = {
        "train_x_orig": (train_x, (160, 25, 25, 1), np.uint8),
        "train_y": (train_y, (1, 160), np.int64),
        "test_x_orig": (test_x, (40, 25, 25, 1), np.uint8),
        "test_y": (test_y, (1, 40), np.int64),
    }
    for name, (arr, shape, dtype) in expected.items():
        assert isinstance(arr, np.ndarray), f"{name}: expected ndarray, found {type(arr)}"
        assert arr.shape == shape, f"{name}: expected shape {shape}, found {arr.shape}"
        assert arr.dtype == dtype, f"{name}: expected dtype {dtype}, found {arr.dtype}"
    assert classes == ("not face", "face"), f"expected ('not face', 'face'), found {classes!r}"
    for name, y in (("train_y", train_y), ("test_y", test_y)):
        assert set(np.unique(y)) <= {0, 1}, f"{name}: expected only 0/1, found {np.unique(y)}"
    assert train_x.max() > 200 and train_x.min() < 50, (
        f"expected pixel values spread over 0..255, found {train_x.min()}..{train_x.max()}"
    )


def test_faces_stratified_split(faces):
    train_x, train_y, test_x, test_y, _ = faces
    counts = {
        "train faces": (int(train_y.sum()), 80),
        "train non-faces": (int((train_y == 0).sum()), 80),
        "test faces": (int(test_y.sum()), 20),
        "test non-faces": (int((test_y == 0).sum()), 20),
    }
    for what, (found, want) in counts.items():
        assert found == want, f"{what}: expected {want}, found {found}"
    # the training set is shuffled, not sorted by label
    changes = int(np.count_nonzero(np.diff(train_y[0])))
    assert changes > 20, f"expected train labels interleaved, found only {changes} label changes"


def test_faces_labels_match_skimage_and_split_is_a_partition(faces):
    import skimage.data

    raw = np.round(skimage.data.lfw_subset() * 255).astype(np.uint8)
    truth = {img.tobytes(): int(i < 100) for i, img in enumerate(raw)}  # first 100 = faces
    train_x, train_y, test_x, test_y, _ = faces
    seen = []
    for x, y in ((train_x, train_y), (test_x, test_y)):
        for img, label in zip(x, y[0]):
            key = img[:, :, 0].tobytes()
            assert key in truth, "expected every image to come from skimage.data.lfw_subset()"
            assert truth[key] == label, f"expected label {truth[key]}, found {label}"
            seen.append(key)
    assert len(set(seen)) == 200 == len(seen), (
        f"expected the 200 images each exactly once, found {len(set(seen))} distinct of {len(seen)}"
    )


def test_faces_deterministic_and_global_rng_untouched():
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = load_dataset("faces")
    assert np.array_equal(np.random.get_state()[1], state), "expected the global RNG state unchanged"
    np.random.seed(999)
    b = load_dataset()
    assert_same_dataset(a, b)


def test_faces_uses_no_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    train_x = load_dataset("faces")[0]
    assert train_x.shape == (160, 25, 25, 1), f"expected (160, 25, 25, 1), found {train_x.shape}"


def test_unknown_dataset_lists_known_names():
    err, msg = data_error(load_dataset, "cats")
    assert isinstance(err, ValueError), "expected DataError to be a ValueError"
    assert_mentions(msg, "cats", "faces")


def test_registry_lists_faces():
    assert "faces" in fd.DATASETS, f"expected 'faces' in DATASETS, found {list(fd.DATASETS)}"
    info = fd.DATASETS["faces"]
    assert info.description and "\n" not in info.description, "expected a one-line description"
    assert callable(info.loader), "expected a callable loader"


def test_summarize_faces(faces):
    text = fd.summarize(faces)
    for part in ("160", "40", "25x25", "1 channel", "'face'", "'not face'", "80", "50.0 %"):
        assert part in text, f"expected {part!r} in summarize() output, found:\n{text}"


def test_learner_exercise_names_not_defined():
    forbidden = ["sigmoid", "initialize_with_zeros", "propagate", "optimize", "predict",
                 "model", "montage", "flatten_and_standardize"]
    for module in (fd, plotting):
        leaked = [n for n in forbidden if hasattr(module, n)]
        assert not leaked, f"expected no exercise solutions in {module.__name__}, found {leaked}"


# ---------------------------------------------------------------- image folder


def test_round_trip_faces(faces, tmp_path):
    out = export_image_folder(faces, tmp_path / "faces")
    assert (out / "train" / "0000.png").is_file(), "expected train/0000.png to be written"
    assert (out / "classes.txt").read_text() == "not face\nface\n", "expected the two class names"
    assert_same_dataset(faces, load_image_folder(out))


def test_rgb_fixture_and_round_trip(tmp_path):
    images = {f"img/{i}.png": rgb(i) for i in range(5)}
    rows = ["test,img/3.png,1", "train,img/0.png,1", "train,img/1.png,0",
            "train,img/2.png,0", "test,img/4.png,0"]
    folder = write_folder(tmp_path / "rgb", rows, images, classes="cat\ndog\n")
    ds = load_image_folder(folder)
    train_x, train_y, test_x, test_y, classes = ds
    assert train_x.shape == (3, 6, 5, 3), f"expected (3, 6, 5, 3), found {train_x.shape}"
    assert test_x.shape == (2, 6, 5, 3), f"expected (2, 6, 5, 3), found {test_x.shape}"
    assert train_y.tolist() == [[1, 0, 0]], f"expected [[1, 0, 0]] (row order), found {train_y.tolist()}"
    assert test_y.tolist() == [[1, 0]], f"expected [[1, 0]], found {test_y.tolist()}"
    for got, name in zip([*train_x, *test_x], ["0", "1", "2", "3", "4"]):
        assert np.array_equal(got, images[f"img/{name}.png"]), f"expected pixels of img/{name}.png"
    assert classes == ("cat", "dog"), f"expected ('cat', 'dog'), found {classes}"
    assert_same_dataset(ds, load_image_folder(export_image_folder(ds, tmp_path / "copy")))


def test_grey_fixture_default_classes(tmp_path):
    train_x, train_y, test_x, test_y, classes = load_image_folder(ok_grey_folder(tmp_path))
    assert train_x.shape == (2, 6, 5, 1), f"expected (2, 6, 5, 1), found {train_x.shape}"
    assert train_x[:, 0, 0, 0].tolist() == [10, 200], f"expected [10, 200], found {train_x[:, 0, 0, 0]}"
    assert classes == ("0", "1"), f"expected default classes ('0', '1'), found {classes}"
    assert train_y.dtype == np.int64, f"expected int64 labels, found {train_y.dtype}"


def test_mode_conversions(tmp_path):
    folder = tmp_path / "modes"
    folder.mkdir()
    Image.fromarray(rgb(1)).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(rgb(2)).convert("P").save(folder / "p.png")
    (folder / "labels.csv").write_text("split,file,label\ntrain,rgba.png,0\ntest,p.png,1\n")
    train_x, _, test_x, _, _ = load_image_folder(folder)
    assert train_x.shape[-1] == 3 and test_x.shape[-1] == 3, "expected RGBA and P read as 3 channels"
    assert np.array_equal(train_x[0], rgb(1)), "expected RGBA pixels kept (alpha dropped)"

    folder16 = tmp_path / "grey16"
    folder16.mkdir()
    a16 = np.array([[0, 257 * 100], [65535, 257 * 3]], dtype=np.uint16)
    Image.fromarray(a16).save(folder16 / "a.png")
    Image.fromarray(np.array([[1, 0], [0, 1]], dtype=bool)).save(folder16 / "b.png")
    (folder16 / "labels.csv").write_text("split,file,label\ntrain,a.png,0\ntest,b.png,1\n")
    train_x, _, test_x, _, _ = load_image_folder(folder16)
    assert train_x[0, :, :, 0].tolist() == [[0, 100], [255, 3]], (
        f"expected 16-bit grey scaled to 0..255, found {train_x[0, :, :, 0].tolist()}"
    )
    assert test_x[0, :, :, 0].tolist() == [[255, 0], [0, 255]], (
        f"expected mode '1' read as 0/255, found {test_x[0, :, :, 0].tolist()}"
    )


def test_folder_read_from_its_own_path_not_the_working_directory(tmp_path, monkeypatch):
    folder = ok_grey_folder(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert load_image_folder(folder)[0].shape[0] == 2, "expected the folder read from its own path"


# ---------------------------------------------------------------- folder errors


def test_error_missing_folder(tmp_path):
    _, msg = data_error(load_image_folder, tmp_path / "nope")
    assert_mentions(msg, tmp_path / "nope", "not found")


def test_error_missing_labels(tmp_path):
    (tmp_path / "empty").mkdir()
    _, msg = data_error(load_image_folder, tmp_path / "empty")
    assert_mentions(msg, tmp_path / "empty", "labels.csv", "missing")


def test_error_bad_header(tmp_path):
    folder = ok_grey_folder(tmp_path)
    (folder / "labels.csv").write_text("file,label\nx.png,0\n")
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", "bad header", "split,file,label")


def test_error_wrong_column_count(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,a.png,1,extra"], {"a.png": grey(1)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", "line 3", "3 columns", "found 4")


def test_error_bad_label(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,a.png,2"], {"a.png": grey(1)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", "line 3", "0 or 1", "'2'")


def test_error_unknown_split(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "valid,a.png,1"], {"a.png": grey(1)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", "line 3", "unknown split", "'valid'")


@pytest.mark.parametrize("split", ["train", "test"])
def test_error_empty_split(tmp_path, split):
    folder = write_folder(tmp_path / "ds", [f"{split},a.png,0"], {"a.png": grey(1)})
    other = "test" if split == "train" else "train"
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", f"{other} split is empty")


def test_error_missing_image(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,gone.png,1"], {"a.png": grey(1)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "gone.png", "not found")


def test_error_corrupt_image(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,bad.png,1"], {"a.png": grey(1)})
    (folder / "bad.png").write_bytes(b"this is not a PNG")
    err, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "bad.png", "cannot read")
    assert isinstance(err.__cause__, (UnidentifiedImageError, OSError)), (
        f"expected the Pillow error kept as __cause__, found {err.__cause__!r}"
    )


def test_error_truncated_image(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,b.png,1"],
                          {"a.png": grey(1), "b.png": rgb(3, 40, 40)[:, :, 0]})
    raw = (folder / "b.png").read_bytes()
    (folder / "b.png").write_bytes(raw[: len(raw) // 2])
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "b.png", "cannot read")


def test_error_size_mismatch(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,b.png,1"],
                          {"a.png": grey(1, h=6, w=5), "b.png": grey(1, h=7, w=9)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "b.png", folder / "a.png", "9x7", "5x6")


def test_error_grey_and_colour_mixed(tmp_path):
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,b.png,1"],
                          {"a.png": grey(1), "b.png": rgb(1)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "b.png", folder / "a.png", "colour", "greyscale", "mixed")


@pytest.mark.parametrize("bad", ["../x.png", "sub/../../x.png", "/etc/hosts", "C:\\x.png", "\\\\srv\\x.png"])
def test_error_path_escapes_folder(tmp_path, bad):
    Image.fromarray(grey(1)).save(tmp_path / "x.png")
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", f"test,{bad},1"], {"a.png": grey(1)})
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", "line 3", repr(bad))
    assert "absolute" in msg or "escapes" in msg, f"expected the refusal explained, found {msg!r}"


def test_error_symlink_escaping_folder(tmp_path):
    Image.fromarray(grey(1)).save(tmp_path / "outside.png")
    folder = write_folder(tmp_path / "ds", ["train,a.png,0", "test,link.png,1"], {"a.png": grey(1)})
    try:
        (folder / "link.png").symlink_to(tmp_path / "outside.png")
    except OSError:
        pytest.skip("symlinks not available")
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "labels.csv", "link.png", "outside the folder")


@pytest.mark.parametrize("text", ["only one\n", "a\nb\nc\n", "a\n   \n", ""])
def test_error_bad_classes_file(tmp_path, text):
    folder = ok_grey_folder(tmp_path, classes=text)
    _, msg = data_error(load_image_folder, folder)
    assert_mentions(msg, folder / "classes.txt", "exactly two non-empty lines")


def test_export_refuses_non_empty_folder(tmp_path, faces):
    target = tmp_path / "full"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    _, msg = data_error(export_image_folder, faces, target)
    assert_mentions(msg, target, "not empty")
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"], "expected nothing written"


def test_export_refuses_bad_dataset(tmp_path):
    x = np.zeros((2, 4, 4, 1), np.uint8)
    y = np.array([[0, 1]])
    _, msg = data_error(export_image_folder, (x.astype(float), y, x, y, ("a", "b")), tmp_path / "o")
    assert_mentions(msg, "uint8")
    _, msg = data_error(export_image_folder, (x, y, x, y, ("a", "two\nlines")), tmp_path / "o")
    assert_mentions(msg, "class name")


# ---------------------------------------------------------------- CelebA

ATTRS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Male", "Young"]
MALE = [1, -1, -1, 1, -1]  # -> female labels 0 1 1 0 1
CENTRES = [(200, 10, 10), (10, 200, 10), (10, 10, 200), (200, 200, 10), (10, 200, 200)]


def write_celeba(root, n_images=5, rows=None, attrs=ATTRS):
    img_dir = root / "img_align_celeba"
    img_dir.mkdir(parents=True)
    for i in range(n_images):
        a = np.zeros((218, 178, 3), np.uint8)
        a[:] = CENTRES[i]
        a[:20] = (255, 255, 255)  # cut off by the centre crop
        a[-20:] = (0, 0, 0)
        Image.fromarray(a).save(img_dir / f"{i + 1:06d}.jpg", quality=95)
    if rows is None:
        rows = []
        for i, male in enumerate(MALE[:n_images]):
            values = ["-1", "1", str(male), "1"]
            rows.append(f"{i + 1:06d}.jpg  " + "  ".join(v.rjust(2) for v in values))
    attr = root / "list_attr_celeba.txt"
    attr.write_text(f"{len(rows)}\n{' '.join(attrs)} \n" + "\n".join(rows) + "\n")
    return img_dir, attr


def test_celeba_fixture(tmp_path):
    img_dir, attr = write_celeba(tmp_path)
    train_x, train_y, test_x, test_y, classes = load_celeba(img_dir, attr, n=5)
    assert train_x.shape == (4, 64, 64, 3), f"expected (4, 64, 64, 3), found {train_x.shape}"
    assert test_x.shape == (1, 64, 64, 3), f"expected (1, 64, 64, 3), found {test_x.shape}"
    assert train_x.dtype == np.uint8, f"expected uint8, found {train_x.dtype}"
    assert train_y.tolist() == [[0, 1, 1, 0]], f"expected [[0, 1, 1, 0]] (1 = Male is -1), found {train_y.tolist()}"
    assert test_y.tolist() == [[1]], f"expected [[1]], found {test_y.tolist()}"
    assert train_y.dtype == np.int64, f"expected int64, found {train_y.dtype}"
    assert classes == ("male", "female"), f"expected ('male', 'female'), found {classes}"
    for i, img in enumerate([*train_x, *test_x]):  # file order kept, crop removed the bands
        diff = np.abs(img.astype(int) - np.array(CENTRES[i]))
        centre = diff[16:48, 16:48].max()
        assert centre <= 6, f"image {i}: expected colour {CENTRES[i]} (file order), off by {centre}"
        # the white/black bands (20 px top and bottom) must be cropped away (JPEG blur aside)
        assert diff.max() <= 60, f"image {i}: expected the bands cropped away, found a pixel off by {diff.max()}"


def test_celeba_split_80_20(tmp_path):
    img_dir, attr = write_celeba(tmp_path)
    train_x, _, test_x, _, _ = load_celeba(img_dir, attr, n=3)
    assert (len(train_x), len(test_x)) == (2, 1), f"expected 2 train / 1 test for n=3, found {len(train_x)}/{len(test_x)}"


def test_celeba_error_missing_attributes(tmp_path):
    img_dir, _ = write_celeba(tmp_path)
    _, msg = data_error(load_celeba, img_dir, tmp_path / "nope.txt", n=5)
    assert_mentions(msg, tmp_path / "nope.txt", "not found")


def test_celeba_error_no_male_column(tmp_path):
    img_dir, attr = write_celeba(tmp_path, attrs=["Smiling", "Young", "Bald", "Eyeglasses"])
    _, msg = data_error(load_celeba, img_dir, attr, n=5)
    assert_mentions(msg, attr, "line 2", "Male")


def test_celeba_error_image_without_row(tmp_path):
    rows = [f"{i:06d}.jpg -1 1 1 1" for i in (1, 2, 4, 5, 6)]  # no row for 000003.jpg
    img_dir, attr = write_celeba(tmp_path, rows=rows)
    _, msg = data_error(load_celeba, img_dir, attr, n=5)
    assert_mentions(msg, img_dir / "000003.jpg", attr, "no attribute row")


@pytest.mark.parametrize("bad_row, problem", [
    ("000002.jpg -1 1 1", "found 4 fields"),
    ("000002.jpg -1 1 0 1", "'0'"),
])
def test_celeba_error_malformed_row(tmp_path, bad_row, problem):
    rows = ["000001.jpg -1 1 1 1", bad_row, "000003.jpg 1 1 1 1", "000004.jpg 1 1 1 1", "000005.jpg 1 1 1 1"]
    img_dir, attr = write_celeba(tmp_path, rows=rows)
    _, msg = data_error(load_celeba, img_dir, attr, n=5)
    assert_mentions(msg, attr, "line 4", "malformed", problem)


@pytest.mark.parametrize("n, problem", [(6, "n=6"), (1, "at least 2"), (0, "at least 2")])
def test_celeba_error_bad_n(tmp_path, n, problem):
    img_dir, attr = write_celeba(tmp_path)
    _, msg = data_error(load_celeba, img_dir, attr, n=n)
    assert_mentions(msg, problem)


def test_celeba_error_more_images_than_rows(tmp_path):
    img_dir, attr = write_celeba(tmp_path, rows=["000001.jpg -1 1 1 1", "000002.jpg -1 1 1 1"])
    attr.write_text(attr.read_text().replace("2\n", "5\n", 1))  # header claims 5
    _, msg = data_error(load_celeba, img_dir, attr, n=4)
    assert_mentions(msg, attr, "n=4", "(2)")


def test_celeba_error_corrupt_image(tmp_path):
    img_dir, attr = write_celeba(tmp_path)
    (img_dir / "000002.jpg").write_bytes(b"not a jpeg")
    _, msg = data_error(load_celeba, img_dir, attr, n=5)
    assert_mentions(msg, img_dir / "000002.jpg", "cannot read")


# ---------------------------------------------------------------- CLI


def run_cli(*args, cwd):
    env = {**os.environ, **course.grading_variables(os.environ.get("PYTHONPATH", ""))}
    return subprocess.run([sys.executable, "-m", "firstneuron.data", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_cli_list_and_describe(tmp_path):
    for args in ((), ("list",)):
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == 0, f"expected exit 0 for {args}, found {r.returncode}: {r.stderr}"
        assert r.stdout.startswith("faces "), f"expected 'faces' listed, found {r.stdout!r}"
    r = run_cli("describe", "faces", cwd=tmp_path)
    assert r.returncode == 0, f"expected exit 0, found {r.returncode}: {r.stderr}"
    assert "160" in r.stdout and "50.0 %" in r.stdout, f"expected counts and balance, found {r.stdout!r}"


def test_cli_export_then_describe_folder(tmp_path):
    r = run_cli("export", "faces", "out", cwd=tmp_path)
    assert r.returncode == 0, f"expected exit 0, found {r.returncode}: {r.stderr}"
    assert (tmp_path / "out" / "labels.csv").is_file(), "expected out/labels.csv relative to the argument"
    r = run_cli("describe", "--folder", tmp_path / "out", cwd=REPO)
    assert r.returncode == 0, f"expected exit 0, found {r.returncode}: {r.stderr}"
    assert "160 train, 40 test" in r.stdout, f"expected the exported counts, found {r.stdout!r}"


def test_cli_error_is_one_line_exit_2(tmp_path):
    r = run_cli("describe", "--folder", tmp_path / "missing", cwd=tmp_path)
    assert r.returncode == 2, f"expected exit code 2, found {r.returncode}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one 'error: ...' line, found {r.stderr!r}"
    assert str(tmp_path / "missing") in lines[0], f"expected the folder named, found {lines[0]!r}"
    assert r.stdout == "", f"expected nothing on stdout, found {r.stdout!r}"


def test_main_in_process(capsys, tmp_path):
    assert fd.main(["describe", "unknown"]) == 2, "expected exit status 2 for an unknown data set"
    err = capsys.readouterr().err
    assert err.startswith("error: unknown data set 'unknown'"), f"expected an error line, found {err!r}"


def test_package_exports_the_public_names():
    missing = [name for name in fd.__all__ if not hasattr(fd, name)]
    assert not missing, f"expected every name of __all__ in firstneuron.data, missing {missing}"
    assert not hasattr(fd, "describe"), (
        "expected one describe, firstneuron.testing's (a value in a few words); the data set's is summarize")


def test_import_prints_nothing(tmp_path):
    # A learner's view: the repository's root on the path, not autograder/ (firstneuron needs nothing of it).
    env = {**os.environ, **course.HEADLESS, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", "import firstneuron.data, firstneuron.plotting"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (
        f"expected a silent import, found rc={r.returncode} stdout={r.stdout!r} stderr={r.stderr!r}"
    )


# ---------------------------------------------------------------- plotting


def test_show_examples(faces):
    train_x, train_y, _, _, classes = faces
    fig = plotting.show_examples(train_x, train_y, classes)
    try:
        axes = fig.get_axes()
        assert len(axes) == 8, f"expected 8 axes, found {len(axes)}"
        titles = [ax.get_title() for ax in axes]
        want = [classes[k] for k in train_y[0, :8]]
        assert titles == want, f"expected titles {want}, found {titles}"
        w, h = fig.get_size_inches()
        assert w <= 8.01 and h <= 2.5, f"expected a figure within 8x2.5 inches, found {w:.2f}x{h:.2f}"
        img = axes[0].get_images()[0]
        assert img.get_cmap().name == "gray" and img.get_clim() == (0, 255), (
            f"expected grey colormap with 0..255, found {img.get_cmap().name} {img.get_clim()}"
        )
    finally:
        plt.close(fig)


def test_show_examples_rgb_seed_and_flat_labels():
    images = np.stack([rgb(i) for i in range(12)])
    labels = np.array([0, 1] * 6)
    fig = plotting.show_examples(images, labels, ("cat", "dog"), n=5, ncols=3, seed=0)
    fig2 = plotting.show_examples(images, labels, ("cat", "dog"), n=5, ncols=3, seed=0)
    try:
        axes = fig.get_axes()
        assert len(axes) == 5, f"expected 5 axes, found {len(axes)}"
        titles = [ax.get_title() for ax in axes]
        assert set(titles) <= {"cat", "dog"}, f"expected class names as titles, found {titles}"
        assert titles == [ax.get_title() for ax in fig2.get_axes()], "expected the same seed to pick the same images"
        assert axes[0].get_images()[0].get_array().shape == (6, 5, 3), "expected RGB images shown as is"
    finally:
        plt.close(fig)
        plt.close(fig2)


def test_plot_function_and_costs():
    ax = plotting.plot_function(lambda z: 1 / (1 + np.exp(-z)), label="s")
    try:
        line = ax.get_lines()[0]
        x, y = line.get_data()
        assert len(x) == 201 and x[0] == -10 and x[-1] == 10, f"expected 201 points over [-10, 10], found {len(x)}"
        assert abs(y[100] - 0.5) < 1e-12, f"expected f(0) = 0.5, found {y[100]}"
        assert ax.xaxis.get_gridlines()[0].get_visible(), "expected a grid"
        assert ax.get_legend() is not None, "expected a legend when label is given"
    finally:
        plt.close(ax.figure)
    ax = plotting.plot_function(lambda z: max(z, 0.0), lo=-1, hi=1, num=5)  # scalar-only function
    try:
        assert ax.get_lines()[0].get_ydata().tolist() == [0, 0, 0, 0.5, 1], "expected the scalar function evaluated per point"
    finally:
        plt.close(ax.figure)

    ax = plotting.plot_costs([0.69, 0.5, 0.4], learning_rate=0.005, label="lr=0.005")
    try:
        assert ax.get_xlabel() == "iterations (per hundreds)", f"found xlabel {ax.get_xlabel()!r}"
        assert ax.get_ylabel() == "cost", f"found ylabel {ax.get_ylabel()!r}"
        assert "0.005" in ax.get_title(), f"expected the learning rate in the title, found {ax.get_title()!r}"
        plotting.plot_costs(np.array([[0.7, 0.6]]), ax=ax, label="other")
        assert len(ax.get_lines()) == 2, f"expected two curves on the same axes, found {len(ax.get_lines())}"
        w, h = ax.figure.get_size_inches()
        assert w <= 8 and h <= 2.5, f"expected a small figure, found {w}x{h}"
    finally:
        plt.close(ax.figure)
