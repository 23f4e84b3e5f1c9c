import json

import pandas as pd

from skfusion.__main__ import main
from skfusion._cli.demo import run_demo

from ..test_model_report import assert_renders_in_a_browser


def test_demo_writes_the_ablation_table(tmp_path, capsys):
    results = run_demo(
        modes=("image", "full"),
        n_folds=2,
        output=tmp_path,
        device="cpu",
        n_subjects=8,
        n_slices=2,
        image_size=32,
        base_width=4,
        clinical_dim=8,
        max_epochs=2,
        batch_size=8,
    )
    captured = capsys.readouterr()
    out = captured.out
    assert "fold 2/2" in out and "| mode | ACC | Sensitivity | Specificity | PPV | NPV" in out
    assert "fit 4/4" in out and "s left" in out
    # max_epochs=1 leaves every fit under-trained: said once, with the count, not 4 times
    assert out.count("4 of 4 fits") == 1 and "ConvergenceWarning" not in captured.err
    assert "Pretraining (image_weights=, ImageClinicalPretrainer) is not run here" in out
    assert set(results["mode"]) == {"image", "full"} and len(results) == 4
    table = pd.read_csv(tmp_path / "ablation.csv", index_col=0)
    assert list(table.index) == ["image", "full"]
    assert (tmp_path / "ablation.png").stat().st_size > 10_000
    assert "±" in (tmp_path / "ablation.md").read_text()
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["settings"]["n_subjects"] == 8 and settings["task"] == "ad_vs_nc"


def test_command_line(tmp_path, capsys):
    assert (
        main(
            [
                "demo",
                "--modes",
                "clinical",
                "--folds",
                "2",
                "--subjects",
                "8",
                "--epochs",
                "1",
                "--output",
                str(tmp_path),
                "--device",
                "cpu",
                "--quiet",
                "--report",
                "none",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    assert (tmp_path / "ablation.md").exists()
    assert not (tmp_path / "report.html").exists()


def test_the_demo_writes_the_model_report_of_full_by_default(tmp_path):
    assert (
        main(
            [
                "demo",
                "--modes",
                "clinical",
                "--folds",
                "2",
                "--subjects",
                "12",
                "--epochs",
                "1",
                "--output",
                str(tmp_path),
                "--device",
                "cpu",
                "--quiet",
            ]
        )
        == 0
    )
    page = (tmp_path / "report.html").read_text()
    assert "Model report: Pipeline" in page and 'id="subgroups"' in page
    assert "Grad-CAM maps are not available" not in page
    assert_renders_in_a_browser(tmp_path / "report.html", 4)  # the demo's own report


def test_the_report_reuses_the_tables_folds_of_its_mode(tmp_path, capsys, monkeypatch):
    from skfusion import ClinicalAttentionClassifier

    fits = []
    original = ClinicalAttentionClassifier.fit

    def counted(self, *args, **kwargs):
        fits.append(self.mode)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ClinicalAttentionClassifier, "fit", counted)
    results = run_demo(
        modes=("clinical", "full"),
        n_folds=2,
        output=tmp_path,
        device="cpu",
        n_subjects=12,
        n_slices=2,
        image_size=32,
        base_width=4,
        clinical_dim=8,
        max_epochs=2,
        batch_size=8,
        report_mode="full",
    )
    out = capsys.readouterr().out
    # 2 folds per mode, and one fit of full on every subject for the report's maps
    assert fits == ["clinical", "clinical", "full", "full", "full"]
    assert "[    full] the model report's cross-validation" in out
    assert "(per image)" in out and "(per patient)" in out and "s left]" in out
    assert "one fit on every patient for the maps: about" in out  # the report's last phase
    assert out.count("of 5 fits") == 1  # every fit's convergence warning, said once
    assert list(results["mode"]) == ["clinical", "clinical", "full", "full"]
    assert results["AUC"].notna().all()
    page = (tmp_path / "report.html").read_text()
    assert "2-fold cross-validation" in page
