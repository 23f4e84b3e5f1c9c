"""Command line: ``python -m skfusion demo|tune`` on the built-in cohort, ``cv|fit|predict``
on your own table of images and clinical values."""

import argparse
import os
import pathlib
import sys
import time
import uuid

from ._cli.checks import check_arguments, claim_output, release_output
from ._cli.table import add_table_commands, run_table_command

#: The files each command writes into its output folder.
RESULT_FILES = {
    "demo": (
        "folds.csv",
        "ablation.csv",
        "ablation.md",
        "settings.json",
        "ablation.png",
        "report.html",
    ),
    "tune": ("trials.csv", "best_params.json"),
    "cv": ("folds.csv", "pooled.csv", "settings.json", "report.html"),
}


def output_folder(command, given, parser=None):
    """Where a run writes: a new folder ``skfusion-<command>/<time>-<pid>-<id>`` by default, so
    runs (and parallel tune workers) never overwrite each other; a folder given with
    ``--output`` must not hold an earlier run's results."""
    if given is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = pathlib.Path(f"skfusion-{command}") / (
            f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        folder.mkdir(parents=True, exist_ok=False)
        return folder if parser is None else claim_output(parser, folder)
    folder = pathlib.Path(given)
    found = (
        [name for name in RESULT_FILES[command] if (folder / name).exists()]
        if folder.is_dir()
        else []
    )
    if found:
        raise SystemExit(
            f"--output {given}: the folder already holds {found} from an earlier run; pass "
            f"another folder, delete those files, or leave --output out (each run then "
            f"writes to a new folder under skfusion-{command}/)."
        )
    return folder if parser is None else claim_output(parser, folder)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skfusion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="cross-validate ClinicalAttentionClassifier in modes image/clinical/concat/full "
        "and write the ablation table",
    )
    demo.add_argument(
        "--config",
        choices=["quick", "paper"],
        default="quick",
        help="quick (default): 160 subjects x 3 slices of 64x64, ResNet18 of "
        "width 8, 12 epochs of batch 64 (its run time on 2 CPU cores is in "
        "the README); paper: 400 subjects x 10 slices of 256x256, ResNet50 "
        "with the paper's RBCA block, 100 epochs (use a GPU)",
    )
    demo.add_argument(
        "--task",
        choices=["ad_vs_nc", "mci_conversion"],
        default="ad_vs_nc",
        help="AD against normal controls (default), or which MCI patients convert to AD",
    )
    demo.add_argument(
        "--modes",
        default="image,clinical,concat,full",
        help="comma-separated modes (default: all four)",
    )
    demo.add_argument(
        "--folds",
        type=int,
        default=5,
        help="cross-validation folds, grouped by subject (default: 5)",
    )
    demo.add_argument(
        "--epochs", type=int, default=None, help="override the configuration's max_epochs"
    )
    demo.add_argument(
        "--subjects", type=int, default=None, help="override the configuration's subject count"
    )
    demo.add_argument(
        "--output",
        default=None,
        help="folder for the results (default: a new folder under skfusion-demo/ per run)",
    )
    demo.add_argument(
        "--device",
        default="auto",
        help="auto (default: CUDA when available, else the CPU), cpu, cuda or cuda:N",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the cohort, the folds and every network (default: 0)",
    )
    demo.add_argument(
        "--quiet", action="store_true", help="print nothing; the files are written as usual"
    )
    demo.add_argument(
        "--report",
        default="full",
        metavar="MODE",
        choices=["image", "clinical", "concat", "full", "none"],
        help="the mode whose model report is written as report.html beside the "
        "table (skfusion.evaluation.model_report: that mode's folds of the "
        "table, then one fit on every subject for the maps; default: full); "
        "none: no report",
    )
    tune = commands.add_parser(
        "tune",
        help="tune ClinicalAttentionClassifier with Optuna on the built-in cohort "
        "(subject-grouped CV, pruning, optional shared storage)",
    )
    tune.add_argument(
        "--n-trials", type=int, default=20, help="trials of this worker (default: 20)"
    )
    tune.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="stop starting trials after this many seconds (default: none)",
    )
    tune.add_argument(
        "--storage",
        default=None,
        help="Optuna storage shared by workers, e.g. sqlite:///study.db or a "
        "PostgreSQL URL (default: in memory)",
    )
    tune.add_argument(
        "--study-name", default=None, help="resume or join this study (default: a new one)"
    )
    tune.add_argument(
        "--heartbeat",
        type=float,
        default=60,
        help="seconds between a running trial's heartbeats in the shared "
        "storage; a dead worker's trial is failed and retried after two",
    )
    tune.add_argument(
        "--task",
        choices=["ad_vs_nc", "mci_conversion"],
        default="ad_vs_nc",
        help="AD against normal controls (default), or MCI conversion",
    )
    tune.add_argument(
        "--subjects", type=int, default=80, help="subjects of the built-in cohort (default: 80)"
    )
    tune.add_argument(
        "--epochs", type=int, default=8, help="max_epochs of every trial's networks (default: 8)"
    )
    tune.add_argument(
        "--folds",
        type=int,
        default=3,
        help="subject-grouped cross-validation folds per trial (default: 3)",
    )
    tune.add_argument(
        "--no-pruning",
        action="store_true",
        help="run every trial to the end (default: Optuna's median pruner "
        "stops a trial whose epoch losses fall behind earlier trials')",
    )
    tune.add_argument(
        "--output",
        default=None,
        help="folder for the results (default: a new folder under "
        "skfusion-tune/ per run, so workers never overwrite each other)",
    )
    tune.add_argument(
        "--device",
        default="auto",
        help="auto (default: CUDA when available, else the CPU), cpu, cuda or cuda:N",
    )
    tune.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the cohort, the folds and the sampler (default: 0)",
    )
    tune.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of this worker; with W workers on one machine use "
        "cores / W (several workers with all threads each slow down many-fold)",
    )
    tune.add_argument(
        "--quiet", action="store_true", help="print nothing; the files are written as usual"
    )
    add_table_commands(commands)
    args = parser.parse_args(argv)
    check_arguments(parser, args)  # before any work: a bad option fails in a second
    if args.command in ("fit", "predict", "view"):
        return run_table_command(args, parser)
    created = args.output is None or not pathlib.Path(args.output).exists()
    args.output = output_folder(args.command, args.output, parser)
    try:
        return _run(args, parser)
    except BaseException:
        release_output(args.output, created)  # a run that wrote nothing leaves nothing
        raise


def _run(args, parser):
    if args.command == "cv":
        return run_table_command(args, parser)
    if args.command == "tune":
        from ._cli.tune import run_tune

        run_tune(args)
        return 0

    from ._cli.demo import run_demo

    overrides = {}
    if args.epochs is not None:
        overrides["max_epochs"] = args.epochs
    if args.subjects is not None:
        overrides["n_subjects"] = args.subjects
    run_demo(
        config=args.config,
        task=args.task,
        modes=[m.strip() for m in args.modes.split(",") if m.strip()],
        n_folds=args.folds,
        output=args.output,
        device=args.device,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
        report_mode=None if args.report == "none" else args.report,
        **overrides,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
