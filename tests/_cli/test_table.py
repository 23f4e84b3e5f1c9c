"""python -m skfusion cv / fit / predict on a user's table, end to end on a generated PNG
cohort and a generated NIfTI cohort."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skfusion.__main__ import main

TINY = [
    "--param",
    "base_width=4",
    "--param",
    "max_epochs=2",
    "--param",
    "batch_size=8",
    "--size",
    "16",
    "--quiet",
]


@pytest.fixture
def png_cohort(tmp_path):
    rng = np.random.RandomState(0)
    (tmp_path / "images").mkdir()
    rows = []
    for i in range(24):
        label = "AD" if (i // 2) % 2 else "NC"  # one label per patient
        pixels = rng.randint(0, 60, (20, 20)) + (120 if label == "AD" else 0)
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
        rows.append(
            {
                "file": f"images/{i}.png",
                "PTID": f"p{i // 2}",
                "age": 60 + i % 7,
                "sex": "F" if i % 3 else "M",
                "DX": label,
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    return tmp_path


@pytest.mark.slow
def test_cv_fit_and_predict_on_a_png_table(png_cohort, capsys):
    table = str(png_cohort / "cohort.csv")
    data = ["--table", table, "--image-column", "file", "--id-column", "PTID"]
    out = png_cohort / "cv"
    assert (
        main(
            [
                "cv",
                *data,
                "--target",
                "DX",
                "--pos-label",
                "AD",
                "--folds",
                "2",
                "--by",
                "sex",
                "--output",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
    page = (out / "report.html").read_text()  # the model report from the same folds
    assert 'id="subgroups"' in page and "2-fold cross-validation" in page
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 2 and {"AUC", "ACC"} <= set(folds.columns)
    settings = json.loads((out / "settings.json").read_text())
    assert settings["patients"] == 12 and settings["image_shape"] == [1, 16, 16]
    assert "python -m skfusion" in settings["command"]
    assert (out / "pooled.csv").exists() and (out / "reliability.png").exists()

    model = png_cohort / "model.skf"
    assert main(["fit", *data, "--target", "DX", "--model", str(model), *TINY]) == 0
    predictions = png_cohort / "predictions.csv"
    # The model file keeps how fit read the table: no --size, --image-column or --id-column.
    assert (
        main(
            ["predict", str(model), "--table", table, "--predictions", str(predictions), "--quiet"]
        )
        == 0
    )
    written = pd.read_csv(predictions)
    assert len(written) == 24 and set(written["prediction"]) <= {"AD", "NC"}
    assert np.allclose(written[["proba_AD", "proba_NC"]].sum(axis=1), 1)
    assert written["patient"].iloc[0] == "p0"
    with pytest.raises(SystemExit):  # an explicit option still wins, and a mismatch is refused
        main(
            [
                "predict",
                str(model),
                *data,
                "--size",
                "20",
                "--predictions",
                str(predictions),
                "--quiet",
            ]
        )
    assert "--size" in capsys.readouterr().err


@pytest.mark.slow
def test_a_nifti_table_of_stacks(tmp_path):
    from skfusion.datasets import make_brain_cohort

    make_brain_cohort(12, n_slices=2, image_size=16, output_dir=tmp_path / "bids", random_state=0)
    participants = pd.read_csv(tmp_path / "bids" / "participants.tsv", sep="\t")
    participants["image"] = [f"{s}/anat/{s}_T1w.nii.gz" for s in participants["participant_id"]]
    participants.to_csv(tmp_path / "bids" / "table.tsv", sep="\t", index=False)
    out = tmp_path / "cv"
    assert (
        main(
            [
                "cv",
                "--table",
                str(tmp_path / "bids" / "table.tsv"),
                "--image-column",
                "image",
                "--target",
                "diagnosis",
                "--id-column",
                "participant_id",
                "--pos-label",
                "AD",
                "--slices",
                "2",
                "--folds",
                "2",
                "--output",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
    settings = json.loads((out / "settings.json").read_text())
    assert settings["rows"] == 12 and settings["image_shape"] == [2, 16, 16]


@pytest.mark.slow
def test_cv_fit_and_predict_on_an_adni_download(tmp_path, capsys):
    from skfusion.datasets import adni_table, write_adni_replica

    adni = write_adni_replica(tmp_path / "adni", n_subjects=18, image_size=16)
    with pytest.warns(UserWarning, match="repeats 1 visit"):
        scanned = {
            task: adni_table(adni / "ADNIMERGE.csv", adni / "ADNI", task=task)["image"]
            .notna()
            .sum()
            for task in ("ad_vs_cn", "diagnosis")
        }
    out = tmp_path / "cv"
    assert (
        main(
            [
                "cv",
                "--adni",
                str(adni),
                "--adni-missing",
                "drop",
                "--pos-label",
                "Dementia",
                "--folds",
                "2",
                "--by",
                "PTGENDER",
                "--output",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
    settings = json.loads((out / "settings.json").read_text())
    assert settings["rows"] == scanned["ad_vs_cn"] and (out / "report.html").exists()
    model = tmp_path / "model.skf"
    assert (
        main(
            [
                "fit",
                "--adni",
                str(adni),
                "--adni-task",
                "diagnosis",
                "--adni-missing",
                "drop",
                "--model",
                str(model),
                *TINY,
            ]
        )
        == 0
    )
    predictions = tmp_path / "predictions.csv"
    assert (
        main(
            [
                "predict",
                str(model),
                "--adni",
                str(adni),
                "--adni-task",
                "diagnosis",
                "--adni-missing",
                "drop",
                "--size",
                "16",
                "--predictions",
                str(predictions),
                "--quiet",
            ]
        )
        == 0
    )
    written = pd.read_csv(predictions, dtype={"patient": str})
    assert len(written) == scanned["diagnosis"]
    assert written["patient"].str.match(r"\d{3}_S_\d{4}").all()
    with pytest.raises(SystemExit) as exit_:  # the replica's third patient has no baseline scan
        main(
            [
                "cv",
                "--adni",
                str(adni),
                "--adni-task",
                "diagnosis",
                "--output",
                str(tmp_path / "again"),
                *TINY,
            ]
        )
    assert exit_.value.code == 2 and "023_S_0003 bl" in capsys.readouterr().err


def test_errors_name_the_option_row_or_file(png_cohort, capsys):
    table = str(png_cohort / "cohort.csv")
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "cv",
                "--table",
                str(png_cohort / "nope.csv"),
                "--image-column",
                "file",
                "--target",
                "DX",
            ]
        )
    assert exit_.value.code == 2 and "--table" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "cv",
                "--table",
                table,
                "--image-column",
                "path",
                "--target",
                "DX",
                "--output",
                str(png_cohort / "a"),
            ]
        )
    assert "image_column='path' is not a column" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "cv",
                "--table",
                table,
                "--image-column",
                "file",
                "--target",
                "DX",
                "--pos-label",
                "AD",
                "--by",
                "height",
                "--output",
                str(png_cohort / "c"),
            ]
        )
    assert "--by height: model_report(by='height') is not a column" in capsys.readouterr().err
    (png_cohort / "images" / "3.png").unlink()
    with pytest.raises(SystemExit):
        main(
            [
                "fit",
                "--table",
                table,
                "--image-column",
                "file",
                "--target",
                "DX",
                "--model",
                str(png_cohort / "m.skf"),
            ]
        )
    assert "row 3:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "fit",
                "--table",
                table,
                "--image-column",
                "file",
                "--target",
                "DX",
                "--model",
                str(png_cohort / "m.skf"),
                "--param",
                "mode=nonsense",
            ]
        )
    assert "--param" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "predict",
                str(png_cohort / "missing.skf"),
                "--table",
                table,
                "--image-column",
                "file",
                "--predictions",
                str(png_cohort / "p.csv"),
            ]
        )
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cv", "--table", table, "--target", "DX", "--output", str(png_cohort / "b")])
    assert "--table needs --image-column" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cv", "--target", "DX", "--image-column", "file"])
    assert "one of the arguments --table --adni is required" in capsys.readouterr().err


def test_refusals_come_before_training_and_leave_nothing_behind(png_cohort, capsys, monkeypatch):
    """--param module__x, a bad weights file, a device this machine lacks, a model path that
    is a folder: each refused with the option named before any image is read; a refused cv
    run leaves no claim on its --output folder, so the corrected run may use it."""
    from skfusion.datasets._readers import table as _table

    table = str(png_cohort / "cohort.csv")
    data = ["--table", table, "--image-column", "file", "--target", "DX", "--id-column", "PTID"]
    (png_cohort / "bad.pt").write_bytes(b"not weights")
    reads = []
    monkeypatch.setattr(_table, "load_images", lambda *a, **k: reads.append(1))
    for extra, message in (
        (["--param", "module__x=1"], "--param: .*takes no 'x'"),
        (
            ["--param", f"image_weights='{png_cohort / 'bad.pt'}'"],
            "--param image_weights: .*cannot be read as weights",
        ),
        (["--device", "cuda:7"], "--device cuda:7: .*CUDA is not available"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["fit", *data, "--model", str(png_cohort / "m.skf"), *extra])
        assert exit_.value.code == 2
        assert __import__("re").search(message, capsys.readouterr().err), message
    with pytest.raises(SystemExit):
        main(["fit", *data, "--model", str(png_cohort)])
    assert "is a folder; pass the path of the model file" in capsys.readouterr().err
    assert not reads  # nothing was read, let alone trained
    monkeypatch.undo()
    out = png_cohort / "cv"
    with pytest.raises(SystemExit) as exit_:
        main(["cv", *data, "--pos-label", "XX", "--output", str(out), *TINY])
    assert "--pos-label 'XX' is not one of the labels ['AD', 'NC'] of --target DX" in (
        capsys.readouterr().err
    )
    assert not out.exists()  # the refused run claimed nothing
    monkeypatch.setattr(
        "skfusion.datasets._readers.images.read_image", lambda *a, **k: reads.append(a)
    )
    with pytest.raises(SystemExit):  # ADNI-style labels, no --pos-label: before any image
        main(["cv", *data, "--output", str(out), *TINY])
    assert (
        "--target DX holds the labels ['AD', 'NC'], which do not say which class is the "
        "condition; pass --pos-label"
    ) in capsys.readouterr().err
    assert not reads and not out.exists()
    monkeypatch.undo()
    with pytest.raises(SystemExit):
        main(
            [
                "cv",
                "--table",
                table,
                "--image-column",
                "path",
                "--target",
                "DX",
                "--output",
                str(out),
            ]
        )
    assert not out.exists()


def test_missing_allow_keeps_rows_without_an_image_file(png_cohort, capsys):
    for i in (3, 8, 17):
        (png_cohort / "images" / f"{i}.png").unlink()
    table = str(png_cohort / "cohort.csv")
    data = ["--table", table, "--image-column", "file", "--id-column", "PTID"]
    model = png_cohort / "model.skf"
    with pytest.raises(SystemExit):
        main(["fit", *data, "--target", "DX", "--model", str(model), *TINY])
    assert "--missing allow" in capsys.readouterr().err and not model.exists()
    assert (
        main(["fit", *data, "--target", "DX", "--model", str(model), "--missing", "allow", *TINY])
        == 0
    )
    predictions = png_cohort / "predictions.csv"
    assert (
        main(
            [
                "predict",
                str(model),
                *data,
                "--size",
                "16",
                "--missing",
                "allow",
                "--predictions",
                str(predictions),
                "--quiet",
            ]
        )
        == 0
    )
    written = pd.read_csv(predictions)
    assert len(written) == 24 and written["patient"].iloc[17] == "p8"
    assert np.isfinite(written[["proba_AD", "proba_NC"]].to_numpy()).all()


def test_an_unnamed_id_column_is_refused_before_any_image_is_read(png_cohort, capsys):
    rows = pd.read_csv(png_cohort / "cohort.csv").assign(record=[f"r{i:03d}" for i in range(24)])
    rows.to_csv(png_cohort / "ids.csv", index=False)
    for i in range(24):  # no image exists: the refusal must come first
        (png_cohort / "images" / f"{i}.png").unlink()
    data = [
        "--table",
        str(png_cohort / "ids.csv"),
        "--image-column",
        "file",
        "--target",
        "DX",
        "--id-column",
        "PTID",
    ]
    with pytest.raises(SystemExit):
        main(["fit", *data, "--model", str(png_cohort / "m.skf"), *TINY])
    err = capsys.readouterr().err
    assert "['record'] look like patient identifiers" in err
    assert "--keep-column record" in err and "do not exist" not in err
    with pytest.raises(SystemExit):  # named as a feature, the table goes on to its files
        main(["fit", *data, "--keep-column", "record", "--model", str(png_cohort / "m.skf"), *TINY])
    assert "do not exist" in capsys.readouterr().err


def test_every_option_of_every_command_has_its_own_help(capsys):
    texts = {}
    for command in ("cv", "fit", "predict", "view", "demo", "tune"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        texts[command] = capsys.readouterr().out
    for command, text in texts.items():
        # argparse prints an option's help on its line or the next; none may be bare
        lines = text.split("options:")[1].splitlines()
        for i, line in enumerate(lines):
            if line.startswith("  -") and "  " not in line.strip():  # an option, no help
                following = lines[i + 1] if i + 1 < len(lines) else ""
                assert following.startswith(" " * 24) and not following.strip().startswith("-"), (
                    f"{command}: {line.strip()} has no help"
                )
    assert "written beside each prediction" in texts["predict"]
    assert "folds keep a patient's rows together" not in texts["predict"]
    assert "(default 5)" in texts["cv"] and "from the model file" in texts["predict"]


@pytest.mark.slow
def test_a_newcomers_path_view_cv_fit_predict(tmp_path, capsys):
    """A generated PNG table with an id column, 5 absent files, one empty image and an
    id-like column not named as such: refused until named, then view, cv, fit and predict
    run, ids come out of predict, no --size is repeated, and no ANSI code is printed."""
    rng = np.random.RandomState(1)
    rows = []
    for i in range(30):
        label = "AD" if i % 2 else "CN"
        if i not in (2, 9, 14, 21, 28):
            pixels = rng.randint(0, 60, (20, 20)) + (100 if label == "AD" else 0)
            if i == 5:
                pixels[:] = 7  # an empty scan
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / f"s{i}.png")
        rows.append(
            {
                "patient_id": f"P{i:02d}",
                "file": f"s{i}.png",
                "accession": f"A{i:04d}",
                "age": 60 + i % 9,
                "diagnosis": label,
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "study.csv", index=False)
    data = [
        "--table",
        str(tmp_path / "study.csv"),
        "--image-column",
        "file",
        "--id-column",
        "patient_id",
        "--missing",
        "allow",
    ]
    sheet = tmp_path / "sheet.png"
    with pytest.raises(SystemExit):
        main(["view", *data, "--target", "diagnosis", "--output", str(sheet)])
    assert "['accession'] look like patient identifiers" in capsys.readouterr().err
    data += ["--keep-column", "accession"]  # named: a clinical value on purpose
    assert main(["view", *data, "--target", "diagnosis", "--output", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert sheet.stat().st_size > 1000 and "5 without an image file" in out
    assert "P05" in out and "empty" in out
    run = tmp_path / "cv"
    train = [
        *data,
        "--target",
        "diagnosis",
        "--size",
        "16",
        "--param",
        "base_width=4",
        "--param",
        "max_epochs=2",
        "--param",
        "batch_size=8",
    ]
    assert main(["cv", *train, "--pos-label", "AD", "--folds", "2", "--output", str(run)]) == 0
    assert (run / "folds.csv").exists()
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Wrote")]
    assert listed and "folds.csv" in listed[0] and ".skfusion-run" not in listed[0]
    model = tmp_path / "model.skf"
    assert main(["fit", *train, "--model", str(model)]) == 0
    predictions = tmp_path / "predictions.csv"
    assert (
        main(
            [
                "predict",
                str(model),
                "--table",
                str(tmp_path / "study.csv"),
                "--missing",
                "allow",
                "--predictions",
                str(predictions),
            ]
        )
        == 0
    )
    written = pd.read_csv(predictions)
    assert written["patient"].tolist() == [f"P{i:02d}" for i in range(30)]
    printed = capsys.readouterr()
    assert "\x1b[" not in printed.out + printed.err
