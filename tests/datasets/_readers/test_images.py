"""2-D image files: PNG, JPEG, TIFF and single-frame DICOM, and a table naming them."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skfusion import ClinicalAttentionClassifier
from skfusion.datasets import ImageFiles, load_images, load_table_cohort, read_image


def _gradient(h=12, w=20):
    return (np.arange(h)[:, None] * 10 + np.arange(w)[None, :]).astype(np.uint8)


def test_eight_and_sixteen_bit_grey_keep_their_values(tmp_path):
    Image.fromarray(_gradient()).save(tmp_path / "a.png")
    deep = _gradient().astype(np.uint16) * 250
    Image.fromarray(deep).save(tmp_path / "b.png")  # mode I;16
    Image.fromarray(deep).save(tmp_path / "c.tif")
    images = load_images([tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.tif"])
    assert images.shape == (3, 1, 12, 20) and images.dtype == np.float32
    assert np.array_equal(images[0, 0], _gradient())
    assert np.array_equal(images[1, 0], deep) and np.array_equal(images[2, 0], deep)
    assert images[1].max() > 255  # 16-bit depth is not cut to 8 bits


def test_exif_orientation_turns_the_image_upright(tmp_path):
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, :5] = 255  # a bright band on the stored image's left
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "photo.jpg", exif=exif, quality=100)
    upright = load_images(tmp_path / "photo.jpg", color="rgb")
    assert upright.shape == (1, 3, 30, 10)  # height and width swapped
    assert upright[0, :, :5].mean() > 200 and upright[0, :, -5:].mean() < 50  # band on top


def test_colour_palette_and_alpha(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "red.png")
    grey = load_images(tmp_path / "red.png")
    assert np.allclose(grey, 0.299 * 200, atol=1e-3)  # luminance, in float
    assert np.allclose(load_images(tmp_path / "red.png", color="rgb")[0, 0], 200)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(
        tmp_path / "palette.png"
    )
    assert np.allclose(load_images(tmp_path / "palette.png", color="rgb")[0, 0], 200)
    rgba = np.dstack([rgb, np.full((8, 8), 127, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    assert np.allclose(
        load_images(tmp_path / "alpha.png", color="rgb")[0, 0], 200 * 127 / 255, atol=1e-3
    )  # composited onto black
    grey_alpha = np.dstack([np.full((8, 8), 100, np.uint8), np.full((8, 8), 255, np.uint8)])
    Image.fromarray(grey_alpha, mode="LA").save(tmp_path / "la.png")
    assert np.allclose(load_images(tmp_path / "la.png"), 100)


def test_single_frame_dicom_with_rescale_and_monochrome1(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = dataset.pixel_array.astype(np.float64)
    expected = stored * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    dataset.save_as(tmp_path / "ct.dcm")
    image = read_image(tmp_path / "ct.dcm")
    assert image.shape == (1, *stored.shape) and np.allclose(image[0], expected)
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(tmp_path / "inverted.dcm")
    inverted = read_image(tmp_path / "inverted.dcm")[0]
    assert np.allclose(inverted, expected.max() + expected.min() - expected)
    dataset.PhotometricInterpretation = "PALETTE COLOR"
    dataset.save_as(tmp_path / "palette.dcm")
    with pytest.raises(ValueError, match="PhotometricInterpretation 'PALETTE COLOR'"):
        read_image(tmp_path / "palette.dcm")


def test_size_normalize_and_lazy_equal_eager(tmp_path):
    Image.fromarray(_gradient(12, 20)).save(tmp_path / "a.png")
    Image.fromarray(_gradient(16, 16)).save(tmp_path / "b.png")
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    with pytest.raises(ValueError, match="different sizes.*pass size="):
        load_images(paths)
    eager = load_images(paths, size=(8, 10), normalize="minmax")
    assert eager.shape == (2, 1, 8, 10) and eager.min() >= 0 and eager.max() <= 1
    lazy = load_images(paths, size=(8, 10), normalize="minmax", lazy=True)
    assert isinstance(lazy, ImageFiles) and lazy.shape == (2, 1, 8, 10)
    assert np.array_equal(np.asarray(lazy), eager)
    assert np.array_equal(lazy[[1]][0], eager[1])
    zscored = load_images(paths[0], normalize="zscore")[0, 0]
    foreground = zscored[_gradient(12, 20) != 0]
    assert abs(foreground.mean()) < 1e-5 and abs(foreground.std() - 1) < 1e-5


def test_what_cannot_be_read_is_refused_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="is not an image Pillow can read"):
        load_images(tmp_path / "notes.png")
    frames = [Image.fromarray(_gradient()), Image.fromarray(_gradient())]
    frames[0].save(tmp_path / "stack.tif", save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match="holds 2 frames"):
        load_images(tmp_path / "stack.tif")
    with pytest.raises(FileNotFoundError, match="2 of 3 image files do not exist"):
        load_images([tmp_path / "stack.tif", tmp_path / "x.png", tmp_path / "y.png"])
    with pytest.raises(ValueError, match="color='bgr' is not supported"):
        load_images(tmp_path / "stack.tif", color="bgr")
    Image.fromarray(_gradient()).save(tmp_path / "big.png")
    monkeypatch.setenv("SKFUSION_MAX_VOXELS", "100")
    with pytest.raises(ValueError, match="over the limit of 100"):
        read_image(tmp_path / "big.png")


def test_a_table_becomes_a_cohort_with_patients_kept_whole(tmp_path):
    from sklearn.model_selection import GroupKFold, cross_val_score

    rng = np.random.RandomState(0)
    (tmp_path / "images").mkdir()
    rows = []
    for i in range(24):
        label = "AD" if i % 2 else "NC"
        pixels = rng.randint(0, 60, (16, 16)).astype(np.uint8) + (120 if label == "AD" else 0)
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
        rows.append(
            {
                "path": f"images/{i}.png",
                "patient": f"p{i // 2}",
                "age": 60 + i,
                "sex": "F" if i % 3 else "M",
                "diagnosis": label,
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    X, y, groups = load_table_cohort(
        tmp_path / "cohort.csv",
        image_column="path",
        target="diagnosis",
        id_column="patient",
        normalize="minmax",
    )
    assert X.images.shape == (24, 1, 16, 16) and list(X.clinical.columns) == ["age", "sex"]
    assert (X.subjects == groups).all() and groups[0] == groups[1] == "p0"
    assert y.tolist() == [r["diagnosis"] for r in rows]
    model = ClinicalAttentionClassifier(
        mode="image",
        backbone="resnet18",
        base_width=4,
        max_epochs=2,
        batch_size=8,
        random_state=0,
        verbose=0,
    )
    scores = cross_val_score(model, X, y, groups=groups, cv=GroupKFold(3))
    assert scores.shape == (3,)
    table = pd.DataFrame(rows).assign(path=lambda t: [str(tmp_path / p) for p in t["path"]])
    lazy, _, _ = load_table_cohort(table.iloc[:4], image_column="path", lazy=True)
    assert isinstance(lazy.images, ImageFiles) and (lazy.subjects == np.arange(4)).all()


def test_a_table_with_absent_files_or_columns_is_refused(tmp_path):
    table = pd.DataFrame({"path": ["a.png", "b.png", None], "age": [1, 2, 3]})
    with pytest.raises(ValueError, match="'path' is empty in rows \\[2\\]"):
        load_table_cohort(table, image_column="path", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="2 of 2 image files do not exist.*row 0"):
        load_table_cohort(table.iloc[:2], image_column="path", root=tmp_path)
    with pytest.raises(ValueError, match="id_column='patient' is not a column"):
        load_table_cohort(table, image_column="path", id_column="patient")
    with pytest.raises(TypeError, match="table must be a pandas DataFrame"):
        load_table_cohort([1, 2], image_column="path")


def _png16_rgb(path, pixels):
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    import struct
    import zlib

    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_truncated_files_deep_colour_and_bad_options_are_refused_with_the_path(tmp_path):
    noise = np.random.RandomState(0).randint(0, 255, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "a.png")
    Image.fromarray(noise).save(tmp_path / "a.jpg")
    for name in ("a.png", "a.jpg"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[: len(data) // 2])
        for read in (load_images, read_image):
            with pytest.raises(
                ValueError,
                match=rf"cut_{name} cannot be decoded.*truncated "
                "or corrupt",
            ):
                read(tmp_path / f"cut_{name}")
    _png16_rgb(tmp_path / "deep.png", np.full((4, 4, 3), 40000, dtype=np.uint16))
    with pytest.raises(ValueError, match=r"deep.png is 16-bit colour.*16-bit greyscale"):
        load_images(tmp_path / "deep.png", color="rgb")
    for kwargs, match in (
        (dict(color="grey"), "color='grey'"),
        (dict(normalize="z"), "normalize='z'"),
    ):
        with pytest.raises(ValueError, match=match):
            read_image(tmp_path / "a.png", **kwargs)
        with pytest.raises(ValueError, match=match):
            ImageFiles([tmp_path / "a.png"], **kwargs)


def test_our_pixel_limit_decides_not_pillows(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    Image.new("L", (300, 200)).save(tmp_path / "wide.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # Pillow's bomb check: 2,000
    monkeypatch.setenv("SKFUSION_MAX_VOXELS", str(10**6))
    assert load_images(tmp_path / "wide.png").shape == (1, 1, 200, 300)
    assert PILImage.MAX_IMAGE_PIXELS == 1000  # left as it was
    monkeypatch.setenv("SKFUSION_MAX_VOXELS", "1000")
    with pytest.raises(ValueError, match="over the limit of 1000 .SKFUSION_MAX_VOXELS"):
        load_images(tmp_path / "wide.png")


def test_a_lazy_image_of_another_size_is_refused_with_the_file(tmp_path):
    Image.fromarray(_gradient()).save(tmp_path / "a.png")
    Image.fromarray(_gradient(14, 20)).save(tmp_path / "b.png")
    files = ImageFiles([tmp_path / "a.png", tmp_path / "b.png"])
    assert files.read(0).shape == (1, 12, 20)
    with pytest.raises(
        ValueError,
        match=r"b.png is 14x20, while the images read before it "
        r"are 12x20; pass size",
    ):
        files.read(1)


def test_an_empty_table_and_empty_labels_are_refused(tmp_path):
    Image.fromarray(_gradient()).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"the table has no rows \(columns \['path'\]\)"):
        load_table_cohort(pd.DataFrame({"path": []}), image_column="path", root=tmp_path)
    table = pd.DataFrame({"path": ["a.png"] * 4, "dx": ["AD", None, "NC", np.nan]})
    with pytest.raises(ValueError, match=r"target='dx' is empty in 2 row\(s\) \[1, 3\]"):
        load_table_cohort(table, image_column="path", target="dx", root=tmp_path)


def _half_absent_table(tmp_path, n=8):
    """n rows of 16x16 PNGs; the files of rows 1 and 5 are never written."""
    rows = []
    for i in range(n):
        if i not in (1, 5):
            Image.fromarray(np.full((16, 16), 20 * i, np.uint8)).save(tmp_path / f"{i}.png")
        rows.append(
            {"path": f"{i}.png", "patient": f"p{i}", "age": 50 + i, "dx": "AD" if i % 2 else "NC"}
        )
    return pd.DataFrame(rows)


def test_missing_allow_keeps_patients_without_a_file_marked_missing(tmp_path):
    from skfusion import FusionInput

    table = _half_absent_table(tmp_path)
    paths = [tmp_path / p for p in table["path"]]
    with pytest.raises(
        FileNotFoundError,
        match=r"2 of 8 image files do not exist.*1.png.*"
        r"missing='allow'.*--missing allow",
    ):
        load_images(paths)
    eager = load_images(paths, missing="allow")
    assert [e is None for e in eager] == [i in (1, 5) for i in range(8)]
    assert FusionInput(eager).present["images"].tolist() == [i not in (1, 5) for i in range(8)]
    lazy = load_images(paths, missing="allow", lazy=True)
    assert lazy.present.tolist() == [i not in (1, 5) for i in range(8)]
    assert lazy.sample_shape == (1, 16, 16) and not lazy.read(1).any()
    assert np.array_equal(lazy.read(2), eager[2])
    assert lazy.take([4, 5]).present.tolist() == [True, False]
    with pytest.raises(ValueError, match="missing='sometimes': expected 'raise'"):
        load_images(paths, missing="sometimes")
    with pytest.raises(FileNotFoundError, match="none of the 1 image files exists"):
        load_images([tmp_path / "1.png"], missing="allow")

    for lazy_table in (False, True):
        X, y, groups = load_table_cohort(
            table,
            image_column="path",
            target="dx",
            id_column="patient",
            root=tmp_path,
            missing="allow",
            lazy=lazy_table,
        )
        assert X.present["images"].tolist() == [i not in (1, 5) for i in range(8)]
        assert y.tolist() == table["dx"].tolist() and groups[5] == "p5"
        assert list(X.clinical.columns) == ["age"]
    with pytest.raises(
        FileNotFoundError,
        match=r"row 1: .*1.png.*row 5.*missing='allow'.*"
        r"image_column='path'",
    ):
        load_table_cohort(table, image_column="path", root=tmp_path)


def test_a_table_with_absent_files_trains_and_predicts_from_what_it_has(tmp_path):
    table = _half_absent_table(tmp_path, n=12)
    X, y, _ = load_table_cohort(
        table, image_column="path", target="dx", root=tmp_path, missing="allow", id_column="patient"
    )
    model = ClinicalAttentionClassifier(
        mode="concat",
        backbone="resnet18",
        base_width=4,
        max_epochs=1,
        batch_size=8,
        random_state=0,
        verbose=0,
    )
    proba = model.fit(X, y).predict_proba(X)
    assert proba.shape == (12, 2) and np.isfinite(proba).all()
    assert model.modalities_used(X)["images"].tolist() == [i not in (1, 5) for i in range(12)]


def test_nifti_rows_with_absent_files_are_read_eagerly_with_placeholders(tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(0)
    for i in (0, 2):
        nib.save(
            nib.Nifti1Image(rng.random((8, 10, 6)).astype(np.float32), np.eye(4)),
            tmp_path / f"{i}.nii.gz",
        )
    table = pd.DataFrame({"path": [f"{i}.nii.gz" for i in range(3)], "age": [1, 2, 3]})
    for slices in (1, 2):
        X, _, _ = load_table_cohort(
            table,
            image_column="path",
            root=tmp_path,
            missing="allow",
            slices=slices,
            lazy=slices == 1,
        )
        full, _, _ = load_table_cohort(
            table.iloc[[0, 2]], image_column="path", root=tmp_path, slices=slices
        )
        assert np.shape(X.images) == (3, *np.shape(full.images)[1:])
        assert X.present["images"].tolist() == [True, False, True]
        assert not np.asarray(X.images)[1].any()
        assert np.array_equal(np.asarray(X.images)[[0, 2]], np.asarray(full.images))
        assert X.layout == (None if slices == 1 else "slices")


def test_a_column_that_looks_like_an_id_is_refused_as_a_feature_until_named(tmp_path):
    table = _half_absent_table(tmp_path, n=12).assign(
        mrn=np.arange(1000, 1012), age=np.arange(12) * 1.5
    )
    with pytest.raises(
        ValueError,
        match=r"\['patient', 'mrn'\] look like patient identifiers"
        r".*id_column='patient'.*--id-column patient.*"
        r"keep_id_like=\['patient', 'mrn'\]",
    ):
        load_table_cohort(table, image_column="path", target="dx", root=tmp_path, missing="allow")
    with pytest.raises(ValueError, match=r"\['mrn'\] look like"):
        load_table_cohort(
            table, image_column="path", id_column="patient", root=tmp_path, missing="allow"
        )
    X, _, groups = load_table_cohort(
        table,
        image_column="path",
        target="dx",
        id_column="patient",
        keep_id_like=["mrn"],
        root=tmp_path,
        missing="allow",
    )
    assert list(X.clinical.columns) == ["age", "mrn"] and groups[3] == "p3"
    with pytest.raises(ValueError, match="keep_id_like='mrn': expected a list"):
        load_table_cohort(table, image_column="path", keep_id_like="mrn", root=tmp_path)
    # Repeated ids, numbers with other names and tables under 10 rows are not ids.
    from skfusion.datasets._readers.table import id_like_columns

    assert id_like_columns(table.assign(patient=[f"p{i // 2}" for i in range(12)])) == [
        "path",
        "mrn",
    ]  # the path column is unique text too: the loader names it
    assert id_like_columns(table.iloc[:9]) == []
    assert id_like_columns(
        pd.DataFrame(
            {"PatientID": range(10), "fluid": range(10), "note": [f"n{i}" for i in range(10)]}
        )
    ) == ["PatientID", "note"]
