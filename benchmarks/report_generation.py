"""Report generation on held-out subjects: does the generated report state the right finding?

The built-in cohort (simulated from MNI152; one row per subject, 4 slices of 64x64 read as
channels, reports written by a simulated reader who grades hippocampal atrophy with
disagreement, states the grade in 85% of reports, and adds ventricle, age-related and
incidental sentences) split 75/25 by subject, one split per seed. Compared on the test
subjects, in the same run:

* ``ReportGenerator`` (images + clinical values; beam search, 3 beams);
* most frequent training report (when no training report repeats, the medoid: the training
  report with the highest mean ROUGE-L F1 against the other training reports);
* nearest-neighbour retrieval: the training report of the closest training subject in the
  generator's own encoder feature space (cosine distance of ``ReportGenerator.encode``).

Every report, reference or not, is first normalised as the generator writes (lower-case
words and numbers, punctuation dropped), so wording is compared, not formatting.
Metrics: corpus BLEU (sacrebleu), mean ROUGE-L F1 (rouge-score), and the clinical finding:
the atrophy grade each report states (``skfusion.datasets.report_finding``: none / mild /
moderate / marked / not stated) against the grade the reference report states; accuracy,
macro F1 over the five outcomes, and F1 per grade. Differences are generator minus
baseline with a 95% bootstrap interval over the pooled test subjects (2,000 resamples).

    python benchmarks/report_generation.py --quick
    python benchmarks/report_generation.py --seeds 3
"""

import argparse
import json
import pathlib
import platform
import time
from collections import Counter

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import ShuffleSplit

from skfusion import ReportGenerator
from skfusion._base.inputs.text import tokenize
from skfusion.datasets import FINDING_GRADES, make_brain_cohort, report_finding
from skfusion.metrics import bleu, rouge_l

RESULTS = pathlib.Path(__file__).parent / "results"
METHODS = ("ReportGenerator", "most frequent report", "nearest-neighbour retrieval")


def most_frequent(reports):
    counts = Counter(reports)
    report, count = counts.most_common(1)[0]
    if count > 1:
        return report
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    mean = [
        np.mean([scorer.score(b, a)["rougeL"].fmeasure for b in reports if b is not a])
        for a in reports
    ]
    return reports[int(np.argmax(mean))]


def retrieve(train_features, test_features, train_reports):
    a = train_features / np.linalg.norm(train_features, axis=1, keepdims=True).clip(1e-12)
    b = test_features / np.linalg.norm(test_features, axis=1, keepdims=True).clip(1e-12)
    return [train_reports[i] for i in np.argmax(b @ a.T, axis=1)]


def finding_scores(predicted, reference):
    p = [report_finding(r) for r in predicted]
    t = [report_finding(r) for r in reference]
    per_grade = f1_score(t, p, labels=list(FINDING_GRADES), average=None, zero_division=0)
    return {
        "finding_accuracy": accuracy_score(t, p),
        "finding_macro_f1": f1_score(
            t, p, labels=list(FINDING_GRADES), average="macro", zero_division=0
        ),
        "finding_f1_per_grade": dict(zip(FINDING_GRADES, map(float, per_grade))),
    }


def all_scores(predicted, reference):
    return {
        "bleu": bleu(predicted, reference),
        "rouge_l": rouge_l(predicted, reference),
        **finding_scores(predicted, reference),
    }


def bootstrap_difference(metric, ours, theirs, reference, n=2000, seed=0):
    """Mean difference of ``metric`` (a function of (predictions, references)) and its 95%
    bootstrap interval, resampling test subjects."""
    rng = np.random.RandomState(seed)
    ours, theirs, reference = map(np.asarray, (ours, theirs, reference))
    draws = []
    for _ in range(n):
        index = rng.randint(len(reference), size=len(reference))
        draws.append(
            metric(ours[index], reference[index]) - metric(theirs[index], reference[index])
        )
    return {
        "mean": float(metric(ours, reference) - metric(theirs, reference)),
        "interval": [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args(argv)
    subjects, epochs = (120, 15) if args.quick else (300, 40)
    pooled = {method: [] for method in METHODS}
    references = []
    examples = []
    started = time.perf_counter()
    for seed in range(args.seeds):
        cohort = make_brain_cohort(
            subjects, n_slices=4, image_size=64, reports=True, random_state=seed
        )
        reports = [" ".join(tokenize(r)) for r in cohort.frame["report"]]
        train, test = next(ShuffleSplit(1, test_size=0.25, random_state=seed).split(reports))
        train_reports = [reports[i] for i in train]
        reference = [reports[i] for i in test]
        generator = ReportGenerator(
            backbone="resnet18",
            base_width=16,
            max_epochs=epochs,
            batch_size=16,
            lr=1e-3,
            random_state=seed,
            verbose=0,
            device="cpu",
        )
        generator.fit(cohort.X[train], train_reports)
        written = generator.predict(cohort.X[test])
        frequent = most_frequent(train_reports)
        nearest = retrieve(
            generator.encode(cohort.X[train]), generator.encode(cohort.X[test]), train_reports
        )
        for method, predicted in zip(METHODS, (written, [frequent] * len(test), nearest)):
            pooled[method].extend(predicted)
        references.extend(reference)
        if seed == 0:
            examples = [
                {"reference": r, "generated": w, "retrieved": n}
                for r, w, n in list(zip(reference, written, nearest))[:6]
            ]
        print(
            f"  seed {seed}: trained {generator.n_epochs_} epochs, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    rows = {method: all_scores(pooled[method], references) for method in METHODS}
    # Findings and per-report ROUGE-L once; the bootstrap resamples them.
    findings = {m: [report_finding(r) for r in pooled[m]] for m in METHODS}
    truth = [report_finding(r) for r in references]
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rouge = {
        m: [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(pooled[m], references)]
        for m in METHODS
    }
    labels = list(FINDING_GRADES)
    metrics = {
        "bleu": (bleu, pooled, references),
        "rouge_l": (lambda p, r: float(np.mean(p)), rouge, references),
        "finding_macro_f1": (
            lambda p, r: f1_score(r, p, labels=labels, average="macro", zero_division=0),
            findings,
            truth,
        ),
        "finding_accuracy": (lambda p, r: accuracy_score(r, p), findings, truth),
    }
    differences = {
        baseline: {
            name: bootstrap_difference(
                metric,
                values["ReportGenerator"],
                values[baseline],
                reference,
                n=500 if name == "bleu" else 2000,
            )
            for name, (metric, values, reference) in metrics.items()
        }
        for baseline in METHODS[1:]
    }
    command = (
        "python benchmarks/report_generation.py"
        + (" --quick" if args.quick else "")
        + (f" --seeds {args.seeds}" if args.seeds != 1 else "")
    )
    result = {
        "command": command,
        "setting": {
            "subjects": subjects,
            "slices": 4,
            "image_size": 64,
            "epochs": epochs,
            "seeds": args.seeds,
            "test_subjects": len(references),
            "split": "75/25 by subject",
            "data": "simulated from MNI152 (built-in cohort, simulated reports)",
        },
        "scores": rows,
        "generator_minus_baseline": differences,
        "examples": examples,
        "reference_findings": dict(Counter(report_finding(r) for r in references)),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    name = "report_generation_quick" if args.quick else "report_generation_standard"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (RESULTS / f"{name}.md").write_text(table)
    print(table)
    print(f"written to {RESULTS / name}.json and .md")


def markdown(result):
    lines = [
        f"Command: `{result['command']}` (simulated data and reports; "
        f"{result['setting']['test_subjects']} held-out subjects).",
        "",
        "| method | BLEU | ROUGE-L F1 | finding accuracy | finding macro F1 | "
        + " | ".join(f"F1 {g}" for g in FINDING_GRADES)
        + " |",
        "|---" * (5 + len(FINDING_GRADES)) + "|",
    ]
    for method, row in result["scores"].items():
        lines.append(
            f"| {method} | {row['bleu']:.1f} | {row['rouge_l']:.3f} | "
            f"{row['finding_accuracy']:.3f} | {row['finding_macro_f1']:.3f} | "
            + " | ".join(f"{row['finding_f1_per_grade'][g]:.3f}" for g in FINDING_GRADES)
            + " |"
        )
    lines += [
        "",
        "ReportGenerator minus baseline, mean [95% bootstrap interval]:",
        "",
        "| baseline | BLEU | ROUGE-L F1 | finding macro F1 | finding accuracy |",
        "|---|---|---|---|---|",
    ]
    for baseline, diffs in result["generator_minus_baseline"].items():
        cells = [
            f"{diffs[m]['mean']:+.3f} [{diffs[m]['interval'][0]:+.3f}, "
            f"{diffs[m]['interval'][1]:+.3f}]"
            for m in ("bleu", "rouge_l", "finding_macro_f1", "finding_accuracy")
        ]
        lines.append(f"| {baseline} | " + " | ".join(cells) + " |")
    lines += ["", "Generated beside reference reports (seed 0, first test subjects):", ""]
    for example in result["examples"]:
        lines += [
            f"- reference: {example['reference']}",
            f"  - generated: {example['generated']}",
            f"  - retrieved: {example['retrieved']}",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
