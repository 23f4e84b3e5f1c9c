"""The image + clinical report family: ReportFusionClassifier, ReportFusionRegressor and
ReportFusionSurvival share one network (CNN + BiLSTM with word attention) and one contract."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base.core.encoders import ExtraInputs
from .._base.inputs.text import (
    _WORD,
    PAD,
    UNK,
    build_vocabulary,
    check_reports,
    encode_reports,
    tokenize,
)
from .._base.parameters.docstrings import task_estimator_doc
from .._base.parameters.params import Param
from .._input import as_fusion_input
from .._tasks.classification import BaseFusionClassifier
from .._tasks.regression import BaseFusionRegressor
from .._tasks.survival import BaseFusionSurvival
from ..nn.report_fusion import FUSIONS, ReportFusionNet

__all__ = ["ReportFusionClassifier", "ReportFusionRegressor", "ReportFusionSurvival"]


def _reports(X):
    """The reports of ``X``, checked: one string per sample."""
    return check_reports(
        X.text,
        len(X),
        "X.text",
        missing="A ReportFusion estimator needs one report per sample; X has no text. Pass "
        "X = FusionInput(images, clinical, text=reports) (clinical may be None).",
    )


class _ReportTokens(ExtraInputs):
    """The reports of ``X`` as token ids over the training reports' words
    (``vocabulary_``), cut at ``report_length_`` words (the longest training report, at
    most ``max_length``)."""

    attributes = ("vocabulary_", "report_length_")

    def fit(self, X):
        reports = _reports(X)
        vocabulary = build_vocabulary(
            reports, max_size=self.estimator.max_vocabulary, min_count=self.estimator.min_word_count
        )
        longest = max((len(tokenize(r)) for r in reports), default=1)
        length = max(1, min(self.estimator.max_length, longest))
        tokens = encode_reports(reports, vocabulary, length)
        return {"tokens": tokens}, {"vocabulary_": vocabulary, "report_length_": length}

    def transform(self, X):
        return {
            "tokens": encode_reports(
                _reports(X), self.estimator.vocabulary_, self.estimator.report_length_
            )
        }

    @classmethod
    def module_params(cls, fitted):
        return {"vocabulary_size": len(fitted["vocabulary_"]) + 2}

    def export_input(self):
        length = int(self.estimator.report_length_)
        description = {
            "length": length,
            "pad": PAD,
            "unknown": UNK,
            "vocabulary": dict(self.estimator.vocabulary_),
            "word_pattern": _WORD.pattern,
            "rule": "lower-case the report, take the words matching word_pattern, map them "
            "to ids (unknown words to 'unknown'), cut at length, pad with 'pad'",
        }
        return {"name": "tokens", "dtype": "int64", "shape": ["n_samples", length]}, description


class _ReportFusion:
    """The family's contract (see :class:`skfusion._base.core.estimator.BaseFusionEstimator`)."""

    _module_class = ReportFusionNet
    _inputs = frozenset({"images", "clinical", "text"})
    _clinical_optional = True
    _extra_inputs = _ReportTokens
    _params = {
        "fusion": Param(
            "concat",
            [StrOptions(set(FUSIONS))],
            "How image features meet text (+ clinical) features.",
            type='{"concat", "gated"}',
            module=True,
            search=("categorical", FUSIONS),
        ),
        "embedding_dim": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            "Word embedding size.",
            module=True,
            search=("categorical", (32, 64, 128)),
            cap=65536,
        ),
        "hidden_size": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            "LSTM units per direction.",
            module=True,
            search=("categorical", (32, 64, 128)),
            cap=65536,
        ),
        "clinical_dim": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            "Clinical embedding size (used when X has clinical values).",
            module=True,
            cap=65536,
        ),
        "n_heads": Param(
            4,
            [Interval(Integral, 1, None, closed="left")],
            'GMU heads for ``fusion="gated"``.',
            module=True,
            cap=1024,
        ),
        "head_dim": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            'GMU head width for ``fusion="gated"``.',
            module=True,
            cap=65536,
        ),
        "max_length": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            "Words kept per report (longer reports are truncated).",
            cap=4096,
        ),
        "max_vocabulary": Param(
            5000,
            [Interval(Integral, 3, None, closed="left")],
            'Most frequent training words kept; the rest read as "unknown".',
            cap=10**7,
        ),
        "min_word_count": Param(
            1,
            [Interval(Integral, 1, None, closed="left")],
            'Words seen fewer times in training read as "unknown".',
        ),
    }

    def word_attention(self, X):
        """Which words each report's attention weighted: a list of ``[(word, weight), ...]``.

        Words beyond ``report_length_`` are cut, as in training; unknown words show as
        ``"<unk>"``.
        """
        check_is_fitted(self)
        X = as_fusion_input(X)
        reports = _reports(X)
        stacked = self.slices_ in ("mean", "attention")  # each slice reads the same report
        path = "net.text_encoder.weights_out" if stacked else "text_encoder.weights_out"
        with self.net_.recording(path) as captured:
            self._outputs(X)
        weights = np.concatenate(captured) if captured else np.zeros((0, 0))
        if stacked and len(weights):
            weights = weights[:: len(weights) // len(reports)]
        result = []
        for row, report in enumerate(reports):
            words = [w if w in self.vocabulary_ else "<unk>" for w in tokenize(report)][
                : self.report_length_
            ]
            result.append([(w, float(weights[row, i])) for i, w in enumerate(words)])
        return result


class ReportFusionClassifier(_ReportFusion, BaseFusionClassifier):
    """Fuse image slices with free-text clinical reports (and optional clinical values).

    After "Integrating Medical Imaging and Clinical Reports Using Multimodal Deep Learning":
    a ResNet encodes the image; the report is tokenized with a vocabulary learned in ``fit``
    from the training reports (no downloads), embedded, read by a bidirectional LSTM and
    pooled by word-level attention (whose weights show which words mattered); clinical
    values, when given, pass through two FC layers. The features are fused by concatenation
    or by a gated multimodal unit and classified by a linear layer.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Word ids learned from the training reports (0 pads, 1 is unknown).
    report_length_ : int
        Token positions per report (the longest training report, at most ``max_length``).
    {task_attributes}
    {shared_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import FusionInput, ReportFusionClassifier
    >>> rng = np.random.RandomState(0)
    >>> reports = ["marked hippocampal atrophy", "no atrophy"] * 10
    >>> X = FusionInput(rng.rand(20, 16, 16).astype("float32"), None, text=reports)
    >>> y = np.array(["AD", "NC"] * 10)
    >>> clf = ReportFusionClassifier(backbone="resnet18", base_width=4, max_epochs=2,
    ...                              random_state=0, verbose=0).fit(X, y)
    >>> sorted(clf.vocabulary_)
    ['atrophy', 'hippocampal', 'marked', 'no']
    """


class ReportFusionRegressor(_ReportFusion, BaseFusionRegressor):
    __doc__ = task_estimator_doc(
        "regressor",
        "ReportFusion",
        "image slices and free-text reports",
        'backbone="resnet18", base_width=4, max_epochs=2,\n    ...     random_state=0, verbose=0',
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'), None,",
            "                text=['marked hippocampal atrophy', 'no atrophy'] * 10)",
        ],
    )


class ReportFusionSurvival(_ReportFusion, BaseFusionSurvival):
    __doc__ = task_estimator_doc(
        "survival",
        "ReportFusion",
        "image slices and free-text reports",
        'backbone="resnet18", base_width=4, max_epochs=2,\n    ...     random_state=0, verbose=0',
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'), None,",
            "                text=['marked hippocampal atrophy', 'no atrophy'] * 10)",
        ],
    )
