"""The built-in cohort's radiology-style reports, and reading the stated finding back."""

import re

__all__ = ["FINDING_GRADES", "report_finding"]

_FINDINGS = {
    "marked": [
        "marked bilateral hippocampal atrophy",
        "severe medial temporal lobe atrophy",
        "pronounced hippocampal volume loss",
    ],
    "moderate": [
        "moderate hippocampal atrophy",
        "moderate medial temporal volume loss",
        "hippocampal volumes are moderately reduced",
    ],
    "mild": [
        "mild hippocampal atrophy",
        "slight medial temporal volume loss",
        "hippocampi are mildly reduced in volume",
    ],
    "none": [
        "no hippocampal atrophy",
        "hippocampi are normal in volume",
        "no evidence of medial temporal atrophy",
    ],
}
_VENTRICLE_PHRASES = {
    True: [
        "ex vacuo enlargement of the lateral ventricles",
        "the lateral ventricles are prominent",
        "ventricular enlargement",
    ],
    False: ["ventricles are normal in size", "no ventricular enlargement"],
}
_INCIDENTAL = [
    "paranasal sinuses are clear",
    "no acute infarct",
    "no intracranial hemorrhage",
    "orbits are unremarkable",
    "scattered white matter hyperintensities consistent with small vessel disease",
    "no mass effect or midline shift",
    "mastoid air cells are clear",
    "motion artefact limits assessment",
]


def _write_report(rng, neurodegeneration, age):
    """A short report: the reader grades the atrophy with disagreement, wording varies.
    Returns (text, the reader's grade, whether the text states it)."""
    seen = neurodegeneration + rng.normal(scale=0.45)
    grade = (
        "marked" if seen > 1.5 else "moderate" if seen > 0.9 else "mild" if seen > 0.4 else "none"
    )
    sentences = []
    mentioned = bool(rng.random_sample() > 0.15)  # some reports never mention them
    if mentioned:
        sentences.append(rng.choice(_FINDINGS[grade]))
    sentences.append(rng.choice(_VENTRICLE_PHRASES[bool(seen > 0.9)]))
    if age > 78 and rng.random_sample() < 0.6:
        sentences.append("generalised volume loss appropriate for age")
    sentences.extend(rng.choice(_INCIDENTAL, size=rng.randint(1, 3), replace=False))
    order = rng.permutation(len(sentences))
    text = ". ".join(sentences[i][0].upper() + sentences[i][1:] for i in order) + "."
    return ("Findings: " if rng.random_sample() < 0.5 else "") + text, grade, mentioned


#: The grades a report can state, and "not stated".
FINDING_GRADES = ("none", "mild", "moderate", "marked", "not stated")


def report_finding(report):
    """The hippocampal atrophy grade a cohort-style report states: "none", "mild",
    "moderate", "marked", or "not stated".

    Reads the finding phrases :func:`make_brain_cohort` writes (after lower-casing and
    dropping punctuation, as :class:`skfusion.ReportGenerator` writes its reports); a report
    stating several grades gives the most severe. Use it to score generated reports on the
    clinical finding rather than on wording.

    Parameters
    ----------
    report : str
        One report."""
    words = " ".join(re.findall(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?", str(report).lower()))
    for grade in ("marked", "moderate", "mild", "none"):
        for phrase in _FINDINGS[grade]:
            if " ".join(re.findall(r"[a-z]+", phrase)) in words:
                return grade
    return "not stated"
