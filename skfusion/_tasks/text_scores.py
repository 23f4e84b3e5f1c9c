"""Text metrics of generated reports, from the maintained libraries (the ``[text]`` extra):
ROUGE-L F1 (Google's ``rouge-score``) and corpus BLEU (``sacrebleu``)."""

import numpy as np

__all__ = ["bleu", "rouge_l"]


def rouge_l(predictions, references):
    """Mean ROUGE-L F1 of ``predictions`` against ``references`` (Google's ``rouge-score``;
    no stemming). Needs ``pip install "skfusion[text]"``.

    Parameters
    ----------
    predictions : sequence of str
        Generated reports.
    references : sequence of str
        One reference report per prediction."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise ImportError(
            'ROUGE-L needs rouge-score; install it with pip install "skfusion[text]".'
        ) from None
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    scores = [
        scorer.score(str(ref), str(pred))["rougeL"].fmeasure
        for pred, ref in zip(predictions, references)
    ]
    return float(np.mean(scores)) if scores else float("nan")


def bleu(predictions, references):
    """Corpus BLEU (0-100) of ``predictions`` against one reference each (``sacrebleu``,
    its default 13a tokenisation). Needs ``pip install "skfusion[text]"``.

    Parameters
    ----------
    predictions : sequence of str
        Generated reports.
    references : sequence of str
        One reference report per prediction."""
    try:
        import sacrebleu
    except ImportError:
        raise ImportError(
            'BLEU needs sacrebleu; install it with pip install "skfusion[text]".'
        ) from None
    return float(
        sacrebleu.corpus_bleu([str(p) for p in predictions], [[str(r) for r in references]]).score
    )
