"""Command line: ``python -m skfusion demo``."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skfusion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="cross-validate ClinicalAttentionClassifier in modes image/clinical/concat/full "
        "and write the ablation table",
    )
    demo.add_argument("--config", choices=["quick", "paper"], default="quick",
                      help="quick: small CPU model (default); paper: ResNet50, 256x256, "
                      "100 epochs (use a GPU)")
    demo.add_argument("--modes", default="image,clinical,concat,full",
                      help="comma-separated modes (default: all four)")
    demo.add_argument("--folds", type=int, default=5)
    demo.add_argument("--epochs", type=int, default=None, help="override max_epochs")
    demo.add_argument("--samples", type=int, default=None, help="override the sample count")
    demo.add_argument("--output", default="skfusion-demo", help="folder for the results")
    demo.add_argument("--device", default="auto")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    from ._demo import run_demo

    overrides = {}
    if args.epochs is not None:
        overrides["max_epochs"] = args.epochs
    if args.samples is not None:
        overrides["n_samples"] = args.samples
    run_demo(
        config=args.config,
        modes=[m.strip() for m in args.modes.split(",") if m.strip()],
        n_folds=args.folds,
        output=args.output,
        device=args.device,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
        **overrides,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
