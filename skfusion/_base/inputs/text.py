"""A small word tokenizer and vocabulary, learned from the training reports (no downloads)."""

import re
from collections import Counter

import numpy as np

__all__ = [
    "MAX_WORD_LENGTH",
    "PAD",
    "UNK",
    "build_vocabulary",
    "check_reports",
    "encode_reports",
    "is_word",
    "tokenize",
]

PAD, UNK = 0, 1
#: A word is a run of letters of any script (with one inner apostrophe: "patient's"), or a
#: number. Until 0.3 only a-z counted, which cut "œdème cérébral" into "d", "me", "c"...
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+(?:\.\d+)?")
#: The longest word a model file's vocabulary may hold.
MAX_WORD_LENGTH = 256


def check_reports(reports, n_samples, argument, missing=None):
    """``reports`` as a list of ``n_samples`` strings, or an error naming ``argument`` (``y``,
    ``X.text``); ``missing`` is the error's text when there are no reports at all."""
    if reports is None and missing is not None:
        raise ValueError(missing)
    if isinstance(reports, (str, bytes)) or reports is None:
        shown = f" ({reports[:40]!r}...)" if isinstance(reports, (str, bytes)) else ""
        raise ValueError(
            f"{argument} must be one report (a string) per sample; got "
            f"{type(reports).__name__}{shown}. Pass e.g. [report_1, report_2, ...] or a "
            "pandas Series."
        )
    reports = list(reports.tolist() if hasattr(reports, "tolist") else reports)
    if len(reports) != n_samples:
        raise ValueError(
            f"{argument} has {len(reports)} reports but X has {n_samples} "
            "samples; pass one report per sample, in the same order."
        )
    bad = [i for i, r in enumerate(reports) if not isinstance(r, str)]
    if bad:
        raise ValueError(
            f"{argument} must hold strings; entries {bad[:5]} are "
            f"{sorted({type(reports[i]).__name__ for i in bad})}. Use '' for a missing "
            "report."
        )
    return reports


def tokenize(text):
    """Lower-cased words (letters of any script) and numbers of ``text``."""
    return _WORD.findall(str(text).lower())


def is_word(value):
    """Whether ``value`` is a word :func:`tokenize` can produce (for checking vocabularies
    read from model files: no markup, control characters or spaces)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_WORD_LENGTH
        and _WORD.fullmatch(value) is not None
        and value == value.lower()
    )


def build_vocabulary(reports, *, max_size, min_count):
    """Map the most frequent words (at least ``min_count`` times) to ids from 2 on."""
    counts = Counter(word for report in reports for word in tokenize(report))
    words = [
        w for w, c in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if c >= min_count
    ][: max_size - 2]
    return {word: index + 2 for index, word in enumerate(words)}


def encode_reports(reports, vocabulary, length):
    """Token ids, shape ``(n, length)``: truncated, padded with 0, unknown words as 1."""
    ids = np.zeros((len(reports), length), dtype=np.int64)
    for row, report in enumerate(reports):
        tokens = [vocabulary.get(word, UNK) for word in tokenize(report)][:length]
        ids[row, : len(tokens)] = tokens
    return ids
