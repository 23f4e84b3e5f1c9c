"""A small word tokenizer and vocabulary, learned from the training reports (no downloads)."""

import re
from collections import Counter

import numpy as np

__all__ = ["PAD", "UNK", "build_vocabulary", "encode_reports", "tokenize"]

PAD, UNK = 0, 1
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")


def tokenize(text):
    """Lower-cased words and numbers of ``text``."""
    return _WORD.findall(str(text).lower())


def build_vocabulary(reports, *, max_size, min_count):
    """Map the most frequent words (at least ``min_count`` times) to ids from 2 on."""
    counts = Counter(word for report in reports for word in tokenize(report))
    words = [w for w, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
             if c >= min_count][: max_size - 2]
    return {word: index + 2 for index, word in enumerate(words)}


def encode_reports(reports, vocabulary, length):
    """Token ids, shape ``(n, length)``: truncated, padded with 0, unknown words as 1."""
    ids = np.zeros((len(reports), length), dtype=np.int64)
    for row, report in enumerate(reports):
        tokens = [vocabulary.get(word, UNK) for word in tokenize(report)][:length]
        ids[row, : len(tokens)] = tokens
    return ids
