"""The image + clinical report family: ReportFusionClassifier, ReportFusionRegressor and
ReportFusionSurvival share one network (CNN + BiLSTM with word attention) and one contract."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._input import as_fusion_input
from .._base.text import build_vocabulary, encode_reports, tokenize

from .._tasks.classification import BaseFusionClassifier
from .._base.docstrings import family_doc, task_estimator_doc
from .._tasks.regression import BaseFusionRegressor
from .._tasks.survival import BaseFusionSurvival
from ..nn.report_fusion import FUSIONS, ReportFusionNet

__all__ = ["ReportFusionClassifier", "ReportFusionRegressor", "ReportFusionSurvival"]

FAMILY_PARAMETERS = """\
fusion : {"concat", "gated"}, default="concat"
        How image features meet text (+ clinical) features.
    embedding_dim : int, default=64
        Word embedding size.
    hidden_size : int, default=64
        LSTM units per direction.
    clinical_dim : int, default=64
        Clinical embedding size (used when X has clinical values).
    n_heads : int, default=4
        GMU heads for ``fusion="gated"``.
    head_dim : int, default=64
        GMU head width for ``fusion="gated"``.
    max_length : int, default=64
        Words kept per report (longer reports are truncated).
    max_vocabulary : int, default=5000
        Most frequent training words kept; the rest read as "unknown".
    min_word_count : int, default=1
        Words seen fewer times in training read as "unknown"."""

def _check_text(text, n_samples):
    if text is None:
        raise ValueError(
            "A ReportFusion estimator needs one report per sample; X has no text. Pass "
            "X = FusionInput(images, clinical, text=reports) (clinical may be None)."
        )
    if isinstance(text, (str, bytes)):
        raise ValueError(
            f"X.text is one string ({text[:40]!r}...); expected one report per sample, e.g. "
            "text=[report_1, report_2, ...] or a pandas Series.")
    reports = list(text.tolist() if hasattr(text, "tolist") else text)
    if len(reports) != n_samples:
        raise ValueError(f"X.text has {len(reports)} reports but there are {n_samples} images.")
    bad = [i for i, r in enumerate(reports) if not isinstance(r, str)]
    if bad:
        raise ValueError(
            f"X.text must hold strings; entries {bad[:5]} are "
            f"{sorted({type(reports[i]).__name__ for i in bad})}. Use '' for a missing report."
        )
    return reports


class _ReportFusion:
    """The family's contract (see :class:`skfusion._base.estimator.BaseFusionEstimator`)."""

    _module_class = ReportFusionNet
    _inputs = frozenset({"images", "clinical", "text"})
    _clinical_optional = True
    _extra_fitted = ("vocabulary_", "report_length_")
    _declared_params = {"fusion": "concat", "embedding_dim": 64, "hidden_size": 64,
                        "clinical_dim": 64, "n_heads": 4, "head_dim": 64, "max_length": 64,
                        "max_vocabulary": 5000, "min_word_count": 1}
    _declared_constraints = {
        "fusion": [StrOptions(set(FUSIONS))],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "clinical_dim": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "head_dim": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "max_vocabulary": [Interval(Integral, 3, None, closed="left")],
        "min_word_count": [Interval(Integral, 1, None, closed="left")],
    }
    _module_param_names = ("backbone", "base_width", "embedding_dim", "hidden_size",
                           "clinical_dim", "fusion", "n_heads", "head_dim")
    _search_space = {
        "fusion": ("categorical", FUSIONS),
        "hidden_size": ("categorical", (32, 64, 128)),
        "embedding_dim": ("categorical", (32, 64, 128)),
    }

    def _learn_extra(self, X):
        reports = _check_text(X.text, len(X))
        vocabulary = build_vocabulary(reports, max_size=self.max_vocabulary,
                                      min_count=self.min_word_count)
        longest = max((len(tokenize(r)) for r in reports), default=1)
        length = max(1, min(self.max_length, longest))
        tokens = encode_reports(reports, vocabulary, length)
        return {"tokens": tokens}, {"vocabulary_": vocabulary, "report_length_": length}

    def _extra_arrays(self, X):
        reports = _check_text(X.text, len(X))
        return {"tokens": encode_reports(reports, self.vocabulary_, self.report_length_)}

    @classmethod
    def _derived_module_params(cls, extra):
        return {"vocabulary_size": len(extra["vocabulary_"]) + 2} if extra else {}

    def word_attention(self, X):
        """Which words each report's attention weighted: a list of ``[(word, weight), ...]``.

        Words beyond ``report_length_`` are cut, as in training; unknown words show as
        ``"<unk>"``.
        """
        check_is_fitted(self)
        X = as_fusion_input(X)
        reports = _check_text(X.text, len(X))
        stacked = self.slices_ in ("mean", "attention")  # each slice reads the same report
        path = "net.text_encoder.weights_out" if stacked else "text_encoder.weights_out"
        with self.net_.recording(path) as captured:
            self._outputs(X)
        weights = np.concatenate(captured) if captured else np.zeros((0, 0))
        if stacked and len(weights):
            weights = weights[::len(weights) // len(reports)]
        result = []
        for row, report in enumerate(reports):
            words = [w if w in self.vocabulary_ else "<unk>"
                     for w in tokenize(report)][: self.report_length_]
            result.append([(w, float(weights[row, i])) for i, w in enumerate(words)])
        return result


@family_doc("classifier", FAMILY_PARAMETERS)
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
    {family_parameters}
    {task_parameters}
    {shared_parameters}

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


@family_doc("regressor", FAMILY_PARAMETERS)
class ReportFusionRegressor(_ReportFusion, BaseFusionRegressor):
    __doc__ = task_estimator_doc(
        "regressor", "ReportFusion", "image slices and free-text reports",
        'backbone="resnet18", base_width=4, max_epochs=2,\n'
        '    ...     random_state=0, verbose=0',
        ["X = FusionInput(rng.rand(20, 16, 16).astype('float32'), None,",
         "                text=['marked hippocampal atrophy', 'no atrophy'] * 10)"])


@family_doc("survival", FAMILY_PARAMETERS)
class ReportFusionSurvival(_ReportFusion, BaseFusionSurvival):
    __doc__ = task_estimator_doc(
        "survival", "ReportFusion", "image slices and free-text reports",
        'backbone="resnet18", base_width=4, max_epochs=2,\n'
        '    ...     random_state=0, verbose=0',
        ["X = FusionInput(rng.rand(20, 16, 16).astype('float32'), None,",
         "                text=['marked hippocampal atrophy', 'no atrophy'] * 10)"])
