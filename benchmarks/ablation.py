"""The measured effect of each training remedy (and of the classic GMU): paired AUC differences
between the committed standard run and runs with one setting changed, on the same seeds and
folds, with the corrected intervals of ``accuracy.py``.

    python benchmarks/accuracy.py --standard        # the reference run (all defaults)
    python benchmarks/accuracy.py --standard --tasks ad_vs_nc --set augment=false \\
        --methods "clinical,concat,full (RBCA),GatedFusion,FiLM,DAFT" --tag ablation_no_augment
    ... (the same for modality_dropout=0.0, clinical_shortcut=false, all three remedies off
         (ablation_as_published), and --methods GatedFusion --set 'gate="classic"'
         --tag ablation_classic_gmu)
    python benchmarks/ablation.py                   # the table, written to results/ablation.md
"""

import json

import pandas as pd
from _stats import corrected_interval
from accuracy import NETWORKS, RESULTS


def main():
    reference = pd.DataFrame(json.loads((RESULTS / "accuracy_standard.json").read_text())["folds"])
    keyed = reference.set_index(["task", "seed", "fold", "method"])["AUC"]
    lines = [
        "| change | task | method | AUC with the change | AUC by default | difference "
        "(change − default) | 95% CI (corrected) |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted((RESULTS / "experiments").glob("ablation_*.json")):
        payload = json.loads(path.read_text())
        change = ", ".join(f"{k}={v}" for k, v in payload["overrides"].items())
        folds = pd.DataFrame(payload["folds"])
        for (task, method), part in folds.groupby(["task", "method"], sort=False):
            if method not in NETWORKS[2:]:
                continue  # the unimodal reference and the classical baselines do not change
            changed = part.set_index(["task", "seed", "fold", "method"])["AUC"]
            default = keyed.reindex(changed.index)
            mean, low, high = corrected_interval((changed - default).dropna())
            lines.append(
                f"| {change} | {task} | {method} | {changed.mean():.3f} | "
                f"{default.mean():.3f} | {mean:+.3f} | [{low:+.3f}, {high:+.3f}] |"
            )
    text = (
        "Command: `python benchmarks/ablation.py` (from the runs in results/experiments/ "
        "and results/accuracy_standard.json)\n\n" + "\n".join(lines) + "\n"
    )
    (RESULTS / "ablation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
