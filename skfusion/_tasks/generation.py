"""ReportGenerator: write a report from the images (and clinical values) — the report paper's
third task, as an estimator with the same contract as the others (``fit(X, reports)``)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._base.core.encoders import Target, TargetEncoder
from .._base.core.estimator import BaseFusionEstimator
from .._base.files.persistence import ModelFileError
from .._base.inputs.text import MAX_WORD_LENGTH, build_vocabulary, check_reports, is_word, tokenize
from .._base.parameters.params import Param
from .._input import as_fusion_input
from .._net.decoding import DecodingNet
from .._net.device import torch_threads
from ..nn.report_generation import BOS, EOS, ReportGeneratorNet, SequenceCrossEntropy
from .text_scores import rouge_l

__all__ = ["ReportGenerator"]

_SPECIAL = ("<pad>", "<unk>", "<bos>", "<eos>")


class _Reports(TargetEncoder):
    """Reports as token ids over a vocabulary of the training reports' words
    (``vocabulary_``); teacher forcing reads them."""

    attributes = ("vocabulary_",)

    def fit(self, y, *, n_samples, classes=None):
        reports = check_reports(y, n_samples, "y")
        min_count = self.estimator.min_word_count
        words = build_vocabulary(
            reports, max_size=self.estimator.max_vocabulary - 2, min_count=min_count
        )
        if not words:
            raise ValueError(
                f"y holds no words: its {n_samples} reports are empty or punctuation only"
                + (
                    f" (or no word occurs min_word_count={min_count} times)"
                    if min_count > 1
                    else ""
                )
                + ". A ReportGenerator learns to write the reports' words; pass reports "
                "with text."
            )
        vocabulary = [*_SPECIAL, *sorted(words, key=words.get)]
        return Target(
            self._encode(reports, vocabulary), len(vocabulary), fitted={"vocabulary_": vocabulary}
        )

    def transform(self, y, *, n_samples, classes=None):
        reports = check_reports(y, n_samples, "y")
        vocabulary = self.estimator.vocabulary_
        return Target(
            self._encode(reports, vocabulary), len(vocabulary), fitted={"vocabulary_": vocabulary}
        )

    def _encode(self, reports, vocabulary):
        """Token ids framed by BOS and EOS, cut at ``max_length`` words, padded."""
        index = {word: i for i, word in enumerate(vocabulary)}
        length = self.estimator.max_length
        tokens = np.zeros((len(reports), length + 2), dtype=np.int64)
        for row, report in enumerate(reports):
            ids = [index.get(w, 1) for w in tokenize(report)][:length]
            tokens[row, : len(ids) + 2] = [BOS, *ids, EOS]
        return tokens

    def state(self, target_fitted):
        return {"vocabulary": list(target_fitted["vocabulary_"])}

    @classmethod
    def restore(cls, fitted):
        vocabulary = list(fitted["vocabulary"])
        return {"vocabulary_": vocabulary}, len(vocabulary)

    @classmethod
    def check_state(cls, path, fitted):
        vocabulary = fitted.get("vocabulary")
        if not (
            isinstance(vocabulary, list)
            and 5 <= len(vocabulary) <= 10**6
            and all(isinstance(w, str) for w in vocabulary)
            and tuple(vocabulary[:4]) == _SPECIAL
            and len(set(vocabulary)) == len(vocabulary)
        ):
            raise ModelFileError(
                f"{path!s}: fitted.vocabulary must be a list of distinct "
                f"words starting with {list(_SPECIAL)}."
            )
        # Generated reports are made of these words: each must be one the tokenizer makes
        # (no markup, terminal escapes, line breaks or megabyte-long entries).
        bad = [i for i, w in enumerate(vocabulary[4:], start=4) if not is_word(w)]
        if bad:
            raise ModelFileError(
                f"{path!s}: fitted.vocabulary[{bad[0]}]={vocabulary[bad[0]][:40]!r} is not a "
                f"word the tokenizer makes (letters or a number, lower case, at most "
                f"{MAX_WORD_LENGTH} characters); {len(bad)} such entr"
                f"{'y' if len(bad) == 1 else 'ies'}."
            )


class ReportGenerator(BaseFusionEstimator):
    """Write a radiology-style report from images (and clinical values, when given).

    The report paper's third task ("clinical description generation"), built as Xu et al.'s
    "Show, Attend and Tell" (ICML 2015): the shared ResNet encodes the image into a feature
    map; an LSTM decoder writes the report word by word, attending at each word to the
    feature map's positions (soft attention with Show-Attend-Tell's gate); clinical values,
    when ``X`` has them, enter through the decoder's initial state. Training uses teacher
    forcing and the cross-entropy of each next word; ``predict`` decodes with beam search
    (``beam_size=1``: greedy). The vocabulary is learned in ``fit`` from the training
    reports with the tokenizer of :class:`ReportFusionClassifier` (lower-cased words and
    numbers; punctuation dropped), so generated reports are lower-case word sequences.
    A patient's slice stack ``(n, S, H, W)`` is read as S channels of one image (2.5-D;
    ``slices`` "auto" and "channels" both mean this here); volumes need
    ``spatial_dims=3``. With masks in ``X`` it also learns to localise, like the other
    image estimators (``localize``).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    vocabulary_ : list of str
        The words by token id (ids 0-3 are padding, unknown, begin and end).
    {shared_attributes}

    See Also
    --------
    ReportFusionClassifier : Classify from images and reports.

    References
    ----------
    K. Xu et al. "Show, Attend and Tell: Neural Image Caption Generation with Visual
    Attention." ICML 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import FusionInput, ReportGenerator
    >>> rng = np.random.RandomState(0)
    >>> images = rng.rand(20, 16, 16).astype("float32")
    >>> reports = ["no atrophy", "marked hippocampal atrophy"] * 10
    >>> gen = ReportGenerator(backbone="resnet18", base_width=4, max_epochs=2,
    ...                       random_state=0, verbose=0).fit(FusionInput(images), reports)
    >>> gen.vocabulary_[4:]
    ['atrophy', 'hippocampal', 'marked', 'no']
    >>> len(gen.predict(FusionInput(images[:3])))
    3
    """

    _module_class = ReportGeneratorNet
    _net_class = DecodingNet
    _doc_task = "generator"
    _clinical_optional = True
    _reads_stacks = False  # a stack's slices are the channels of one image (2.5-D)
    _missing_images = (
        "a report is generated from the image, so there is nothing to describe without one."
    )
    _flip_refusal = (
        "report text is not mirrored with the image, so a flipped image would "
        "be taught its report's 'left' as 'right'."
    )
    _target_encoder = _Reports
    _params = {
        "embedding_dim": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            "Word embedding size.",
            module=True,
            cap=65536,
        ),
        "hidden_size": Param(
            128,
            [Interval(Integral, 1, None, closed="left")],
            "LSTM state size.",
            module=True,
            search=("categorical", (64, 128, 256)),
            cap=65536,
        ),
        "attention_dim": Param(
            64,
            [Interval(Integral, 1, None, closed="left")],
            "Hidden width of the visual attention.",
            module=True,
        ),
        "clinical_dim": Param(
            32,
            [Interval(Integral, 1, None, closed="left")],
            "Clinical embedding size (when ``X`` has clinical values).",
            module=True,
            cap=65536,
        ),
        "dropout": Param(
            0.3,
            [Interval(Real, 0, 1, closed="left")],
            "Dropout before the word output layer.",
            module=True,
            search=("float", 0.0, 0.5),
        ),
        "max_length": Param(
            40,
            [Interval(Integral, 1, None, closed="left")],
            "Words kept per training report and written per generated report.",
            cap=4096,
        ),
        "max_vocabulary": Param(
            2000,
            [Interval(Integral, 5, None, closed="left")],
            """\
Most frequent training words kept (the rest read as unknown, never generated).""",
            cap=10**7,
        ),
        "min_word_count": Param(
            1,
            [Interval(Integral, 1, None, closed="left")],
            "Words seen fewer times in training read as unknown.",
        ),
        "beam_size": Param(
            3,
            [Interval(Integral, 1, None, closed="left")],
            "Beams of ``predict``'s beam search; 1 decodes greedily.",
            cap=64,
        ),
    }

    _fuses = False  # clinical values condition the decoder; no modality dropout

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None and not isinstance(net, DecodingNet):  # pickled by skfusion 0.3,
            net.__class__ = DecodingNet  # whose one net class decoded; until 0.5

    # -- the task contract ----------------------------------------------------------------

    def fit(self, X, y, groups=None):
        """Learn to write the reports ``y`` from ``X``.

        Parameters
        ----------
        X : FusionInput or tuple
            Images, and clinical values (optional: ``FusionInput(images)`` is enough).
        y : sequence of str of length n_samples
            One reference report per sample.
        groups : array-like, default=None
            Subject of each sample, for the early-stopping split.

        Returns
        -------
        self : object
        """
        return super().fit(X, y, groups=groups)

    def partial_fit(self, X, y, groups=None):
        """Train for one more epoch; the first call builds the vocabulary and network."""
        return self._partial_fit(X, y, groups=groups)

    def _target_inputs(self, target):
        return {"tokens": target.values}  # teacher forcing reads the reference report

    def _criterion_params(self, target):
        return {"criterion": SequenceCrossEntropy}

    def _start_shortcut(self, net, clinical, target, train):  # pragma: no cover
        raise AssertionError("a report generator has no clinical shortcut")

    def _export_head(self):
        raise NotImplementedError(
            "export() writes one forward pass; a ReportGenerator decodes word by word (beam "
            "search), which ONNX/TorchScript tracing cannot capture. Save it with save() "
            "and serve it from Python."
        )

    # -- predictions ------------------------------------------------------------------------

    def _decode(self, X, beam_size):
        check_is_fitted(self)
        # Parameters set after fit (set_params(beam_size=0)) are checked before decoding.
        self._validate_params()
        checked = self._check_X(as_fusion_input(X), fitting=False)
        images, dataset = checked.images, checked.dataset(presence=False)
        with torch_threads(self.n_threads):
            tokens, attention = self.net_.generate(
                dataset, max_length=self.max_length, beam_size=beam_size
            )
        words = [[self.vocabulary_[i] for i in row if i > EOS or i == 1] for row in tokens]
        return words, attention, images.shape

    def encode(self, X):
        """The features the decoder starts from: the image feature map's mean over its
        positions, ``(n_samples, n_features)`` (for retrieving similar cases)."""
        check_is_fitted(self)
        checked = self._check_X(as_fusion_input(X), fitting=False)
        with torch_threads(self.n_threads):
            return self.net_.encoded_features(checked.dataset(presence=False))

    def predict(self, X):
        """The generated reports: a list of strings (lower-case words joined by spaces)."""
        words, _, _ = self._decode(X, self.beam_size)
        return [" ".join(w) for w in words]

    def score(self, X, y, sample_weight=None):
        """Mean ROUGE-L F1 of the generated reports against the references ``y`` (needs
        ``pip install "skfusion[text]"``)."""
        references = check_reports(y, len(as_fusion_input(X)), "y")
        return rouge_l(self.predict(X), references)

    def attention_maps(self, X):
        """Where the decoder looked for each word it wrote (greedy decoding, so each word's
        map is the one that produced it).

        Returns
        -------
        maps : list of (words, array)
            Per sample, the generated words and an array ``(n_words, *image spatial shape)``
            of each word's attention over the image, upsampled from the feature map
            (each map sums to 1 over the feature map's positions before upsampling).
        """
        words, attention, shape = self._decode(X, 1)
        spatial = tuple(shape[2:])
        result = []
        for row, chosen in enumerate(words):
            maps = self.net_.upsample_positions(attention[row, : len(chosen)], spatial)
            result.append((chosen, maps))
        return result

    def localize(self, X, *, weak="saliency"):
        """The localisation head's maps in [0, 1] (a generator fitted with masks in ``X``;
        see :meth:`ClinicalAttentionClassifier.localize`). A generator fitted without masks
        has no single output to explain: use :meth:`attention_maps` (where each word
        looked)."""
        check_is_fitted(self)
        if not self.localizes_:
            raise ValueError(
                "this ReportGenerator was fitted without masks, so it has no localisation "
                "head, and a report has no single output for Grad-CAM to explain; use "
                "attention_maps(X) for where each word looked, or fit with "
                "FusionInput(images, clinical, masks=masks)."
            )
        return super().localize(X, weak=weak)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
