"""ReportGenerator: writes reports from images (and clinical values)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_validate

from skfusion import FusionInput, ReportGenerator, load
from skfusion.metrics import bleu, rouge_l
from skfusion.nn.report_generation import BOS, EOS, ReportGeneratorNet

SMALL = dict(
    backbone="resnet18",
    base_width=8,
    batch_size=16,
    lr=3e-3,
    random_state=0,
    verbose=0,
    device="cpu",
    embedding_dim=16,
    hidden_size=32,
    attention_dim=16,
)
TEXTS = {
    0: "no abnormality seen",
    1: "bright square in the upper left corner",
    2: "bright square in the lower right corner",
}


def squares(n=60, seed=0):
    """Where a bright square is (none, upper left, lower right) decides the report."""
    rng = np.random.RandomState(seed)
    images = (rng.rand(n, 32, 32) * 0.3).astype(np.float32)
    kind = rng.randint(0, 3, n)
    images[kind == 1, 4:14, 4:14] += 1.0
    images[kind == 2, 18:28, 18:28] += 1.0
    return images, kind, [TEXTS[k] for k in kind]


def test_learns_which_report_each_image_needs_and_writes_it_on_new_images():
    images, kind, reports = squares(90)
    gen = ReportGenerator(max_epochs=20, **SMALL).fit(FusionInput(images[:60]), reports[:60])
    written = gen.predict(FusionInput(images[60:]))
    assert isinstance(written, list) and all(isinstance(r, str) for r in written)
    assert np.mean([w == r for w, r in zip(written, reports[60:])]) >= 0.9
    assert gen.score(FusionInput(images[60:]), reports[60:]) >= 0.9


def test_attention_maps_give_each_word_a_map_over_the_image():
    images, kind, reports = squares(60)
    gen = ReportGenerator(max_epochs=20, **SMALL).fit(FusionInput(images), reports)
    maps = gen.attention_maps(FusionInput(images[:5]))
    assert len(maps) == 5
    for (words, weights), text in zip(maps, gen.predict(FusionInput(images[:5]))):
        assert " ".join(words) == text or gen.beam_size > 1
        assert weights.shape == (len(words), 32, 32) and np.isfinite(weights).all()


def test_clinical_values_condition_the_report():
    rng = np.random.RandomState(1)
    images = (rng.rand(60, 16, 16)).astype(np.float32)  # images carry nothing
    flag = rng.rand(60) < 0.5
    clinical = np.c_[flag.astype(float), rng.normal(size=60)]
    reports = ["diabetic patient" if f else "no diabetes" for f in flag]
    gen = ReportGenerator(max_epochs=15, **SMALL).fit((images, clinical), reports)
    assert gen.score((images, clinical), reports) >= 0.95


def test_fits_are_reproducible_and_survive_save_load_pickle_and_clone(tmp_path):
    images, kind, reports = squares(30)
    X = FusionInput(images)
    a = ReportGenerator(max_epochs=3, **SMALL).fit(X, reports)
    b = ReportGenerator(max_epochs=3, **SMALL).fit(X, reports)
    assert a.predict(X) == b.predict(X)
    loaded = load(a.save(tmp_path / "generator.skf"))
    assert loaded.vocabulary_ == a.vocabulary_ and loaded.predict(X) == a.predict(X)
    assert pickle.loads(pickle.dumps(a)).predict(X) == a.predict(X)
    # skfusion 0.3 pickled the generator's net as the one FusionNet class, which decoded
    from skfusion._net.decoding import DecodingNet
    from skfusion._net.net import FusionNet

    old = pickle.loads(pickle.dumps(a))
    old.net_.__class__ = FusionNet
    assert not hasattr(old.net_, "generate")
    upgraded = pickle.loads(pickle.dumps(old))
    assert isinstance(upgraded.net_, DecodingNet) and upgraded.predict(X) == a.predict(X)
    assert clone(a).get_params() == a.get_params()


def test_cross_validation_scores_rouge_l():
    images, kind, reports = squares(30)
    scores = cross_validate(
        ReportGenerator(max_epochs=2, **SMALL),
        FusionInput(images),
        np.asarray(reports, dtype=object),
        cv=KFold(3),
    )
    assert scores["test_score"].shape == (3,)
    assert ((0 <= scores["test_score"]) & (scores["test_score"] <= 1)).all()


@pytest.mark.slow
def test_greedy_and_beam_decoding_agree_on_an_easy_task_and_respect_max_length():
    images, kind, reports = squares(60)
    greedy = ReportGenerator(max_epochs=20, beam_size=1, **SMALL).fit(FusionInput(images), reports)
    beam = clone(greedy).set_params(beam_size=4).fit(FusionInput(images), reports)
    assert greedy.predict(FusionInput(images)) == beam.predict(FusionInput(images))
    short = clone(greedy).set_params(max_length=3).fit(FusionInput(images), reports)
    assert max(len(r.split()) for r in short.predict(FusionInput(images))) <= 3


def test_beam_search_finds_the_most_likely_report_when_its_beam_holds_every_candidate():
    torch.manual_seed(0)
    net = ReportGeneratorNet(n_outputs=6, backbone="resnet18", base_width=4).eval()
    images = torch.randn(4, 1, 16, 16)
    words = (4, 5)
    candidates = [[]] + [[w] for w in words] + [[w, v] for w in words for v in words]

    def mean_log_p(i, report):
        sequence = [BOS, *report, EOS]
        with torch.no_grad():
            logits = net(images[i : i + 1], None, torch.tensor([sequence]))
        log_p = torch.log_softmax(logits[0], dim=1)
        return float(sum(log_p[t, s] for t, s in enumerate(sequence[1:]))) / (len(report) + 1)

    tokens, attention = net.generate(images, max_length=2, beam_size=len(candidates))
    found = [[int(t) for t in row if t > EOS] for row in tokens]
    best = [max(candidates, key=lambda c: mean_log_p(i, c)) for i in range(4)]
    assert found == best
    greedy, _ = net.generate(images, max_length=2, beam_size=1)
    assert greedy.shape[1] <= 2 and attention.shape[:2] == tokens.shape


@pytest.mark.parametrize(
    "y, message",
    [
        ("one report", "one report \\(a string\\) per sample"),
        (["a", "b"], "has 2 reports but X has 30"),
        ([1] * 30, "must hold strings"),
        # Once: "n_outputs must be an int >= 5; got 4", naming neither y nor the reason.
        ([""] * 30, "y holds no words: its 30 reports are empty or punctuation only"),
        (["...", "!?"] * 15, "y holds no words"),
    ],
)
def test_bad_reports_are_refused_with_the_reason(y, message):
    images, _, _ = squares(30)
    gen = ReportGenerator(max_epochs=1, **SMALL)
    with pytest.raises(ValueError, match=message):
        gen.fit(FusionInput(images), y)
    assert not hasattr(gen, "net_")


@pytest.fixture(scope="module")
def writer():
    images, _, reports = squares(30)
    return ReportGenerator(max_epochs=1, **SMALL).fit(FusionInput(images), reports), images


def _edited(model, tmp_path, edit):
    import json
    import zipfile

    path = tmp_path / "m.skf"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    edit(meta)
    members["meta.json"] = json.dumps(meta).encode()
    edited = tmp_path / "edited.skf"
    with zipfile.ZipFile(edited, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return edited


@pytest.mark.parametrize("name, value", [("max_length", 10**9), ("beam_size", 10**7)])
def test_decoding_sizes_in_model_files_are_capped(writer, tmp_path, name, value):
    model, _ = writer
    path = _edited(model, tmp_path, lambda meta: meta["params"].__setitem__(name, value))
    with pytest.raises(ValueError, match=f"params\\['{name}'\\]={value} is over the cap"):
        load(path)


@pytest.mark.parametrize(
    "word", ["<script>alert(1)</script>", "\x1b[31mred", "two\nlines", "x" * 8_000_000, "UPPER"]
)
def test_a_vocabulary_of_non_words_in_a_model_file_is_refused(writer, tmp_path, word):
    model, _ = writer

    def edit(meta):
        meta["fitted"]["vocabulary"][5] = word

    with pytest.raises(ValueError, match=r"fitted.vocabulary\[5\]=.* is not a word"):
        load(_edited(model, tmp_path, edit))


@pytest.mark.parametrize("name, value", [("beam_size", 0), ("max_length", 0)])
def test_parameters_set_after_fit_are_checked_before_decoding(writer, name, value):
    model, images = writer
    model = clone(model).set_params(**{name: value})
    model.__dict__.update({k: v for k, v in writer[0].__dict__.items() if k.endswith("_")})
    with pytest.raises(ValueError, match=f"'{name}' parameter of ReportGenerator"):
        model.predict(FusionInput(images[:2]))


def test_words_of_any_script_are_words():
    from skfusion._base.inputs.text import tokenize

    assert tokenize("Hämorrhagie mit Œdème cérébral, 3.5 cm") == [
        "hämorrhagie",
        "mit",
        "œdème",
        "cérébral",
        "3.5",
        "cm",
    ]
    images, _, _ = squares(12)
    reports = ["œdème cérébral", "hémorragie frontale"] * 6
    gen = ReportGenerator(max_epochs=1, **SMALL).fit(FusionInput(images), reports)
    assert set(gen.vocabulary_[4:]) == {"œdème", "cérébral", "hémorragie", "frontale"}


def test_export_says_why_a_generator_cannot_be_exported(tmp_path):
    images, _, reports = squares(20)
    gen = ReportGenerator(max_epochs=1, **SMALL).fit(FusionInput(images), reports)
    with pytest.raises(NotImplementedError, match="decodes word by word"):
        gen.export(tmp_path / "g.onnx")


def test_text_metrics_are_the_libraries_own():
    import sacrebleu
    from rouge_score import rouge_scorer

    predictions = ["no hippocampal atrophy", "mild atrophy of the hippocampi"]
    references = ["no hippocampal atrophy seen", "marked atrophy"]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = np.mean(
        [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)]
    )
    assert rouge_l(predictions, references) == pytest.approx(expected)
    assert bleu(predictions, references) == pytest.approx(
        sacrebleu.corpus_bleu(predictions, [references]).score
    )
    assert rouge_l(references, references) == 1.0


def test_the_cohort_frame_holds_the_stated_finding_and_report_finding_reads_it():
    from skfusion.datasets import FINDING_GRADES, make_brain_cohort, report_finding

    cohort = make_brain_cohort(40, n_slices=1, image_size=16, reports=True, random_state=0)
    frame = cohort.frame
    assert set(frame["reader_grade"]) <= set(FINDING_GRADES[:4])
    assert "reader_grade" not in cohort.feature_names
    stated = [report_finding(r) for r in frame["report"]]
    expected = [
        g if m else "not stated"
        for g, m in zip(frame["reader_grade"], frame["report_mentions_hippocampi"])
    ]
    assert stated == expected
    # Generated reports are lower-case words without punctuation: still read.
    assert report_finding("findings no acute infarct mild hippocampal atrophy") == "mild"
    assert report_finding("") == "not stated"


def test_slice_stacks_are_read_as_channels_volumes_in_3d_and_masks_train_localisation():
    rng = np.random.RandomState(2)
    stacks = rng.rand(12, 3, 16, 16).astype(np.float32)
    reports = ["no atrophy", "mild atrophy"] * 6
    X = FusionInput(stacks, None, layout="slices", masks=rng.rand(12, 16, 16) > 0.5)
    gen = ReportGenerator(max_epochs=1, **SMALL).fit(X, reports)
    assert gen.slices_ == "channels" and gen.localizes_
    assert gen.localize(FusionInput(stacks)).shape == (12, 16, 16)
    with pytest.raises(ValueError, match="reads the slices of a stack as the channels"):
        ReportGenerator(max_epochs=1, slices="attention", **SMALL).fit(X, reports)
    volume = ReportGenerator(max_epochs=1, spatial_dims=3, max_length=4, **SMALL).fit(
        FusionInput(stacks), reports
    )
    ((words, maps),) = volume.attention_maps(FusionInput(stacks[:1]))
    assert maps.shape == (len(words), 3, 16, 16)
    with pytest.raises(ValueError, match="fitted without masks"):
        volume.localize(FusionInput(stacks))
