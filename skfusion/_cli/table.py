"""The command line on the user's own data: a table naming one image file per row
(``load_table_cohort``), cross-validated (``cv``), fitted into a model file (``fit``) or
predicted by one (``predict``)."""

import json
import pathlib
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd

__all__ = ["add_table_commands", "run_table_command"]

#: Estimators the command line builds by name (the classifiers; a table's target is a label).
CLASSIFIERS = (
    "ClinicalAttentionClassifier",
    "GatedFusionClassifier",
    "FeatureModulationClassifier",
)
#: How a table is read where neither the options nor a model file say.
READING = {"size": 64, "color": "gray", "normalize": "zscore", "slices": 1}
#: The CPU-sized network of the command line's default settings.
DEFAULTS = dict(
    backbone="resnet18",
    base_width=8,
    max_epochs=12,
    batch_size=32,
    lr=1e-3,
    optimizer__weight_decay=1e-2,
)


def _data_arguments(parser, *, target=True):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--table",
        help="CSV or TSV file, one row per image: an image path column, "
        "the clinical columns" + (", the target column" if target else ""),
    )
    source.add_argument(
        "--adni",
        metavar="DIR",
        help="an ADNI download instead of a table: DIR holds ADNIMERGE.csv "
        "and the IDA's ADNI/ image tree (skfusion.datasets.load_adni; "
        "baseline visits)",
    )
    parser.add_argument(
        "--adni-task",
        default="ad_vs_cn",
        choices=["ad_vs_cn", "diagnosis", "mci_conversion"],
        help="with --adni: the labels (default ad_vs_cn: CN vs Dementia)",
    )
    parser.add_argument(
        "--adni-missing",
        default="raise",
        choices=["raise", "drop"],
        help="with --adni: visits without a scan are refused (raise) or left out (drop)",
    )
    parser.add_argument(
        "--image-column",
        help="column of image paths (absolute, or relative to --root); "
        + ("required with --table" if target else "default: the model file's"),
    )
    if target:
        parser.add_argument("--target", help="column of the labels; required with --table")
    parser.add_argument(
        "--id-column",
        default=None,
        help=(
            "column of patient ids: folds keep a patient's rows together "
            "(default: each row is a patient)"
        )
        if target
        else (
            "column of patient ids, written beside each prediction (default: "
            "the model file's, where the table has that column; else the row "
            "number)"
        ),
    )
    parser.add_argument(
        "--keep-column",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column that looks like an identifier (a different value "
        "in every row) but is a clinical value: keep it as a feature "
        "(repeatable; default: such columns are refused)",
    )
    parser.add_argument(
        "--root", default=None, help="folder relative image paths start from (default: the table's)"
    )

    def default(value):  # predict reads what fit wrote into the model file
        return (
            f"(default {value})"
            if target
            else f"(default: as fit read its table, from the model file; else {value})"
        )

    parser.add_argument(
        "--size", type=int, default=None, help="resize images to SIZE x SIZE " + default(64)
    )
    parser.add_argument(
        "--color",
        choices=["gray", "rgb"],
        default=None,
        help="read images as one grey channel or three colour channels " + default("gray"),
    )
    parser.add_argument(
        "--normalize",
        choices=["zscore", "minmax", "none"],
        default=None,
        help="per-image intensity normalisation " + default("zscore"),
    )
    parser.add_argument(
        "--missing",
        choices=["raise", "allow"],
        default="raise",
        help="rows whose image file does not exist: refused, listed "
        "(raise, the default), or kept with their image marked missing, "
        "predicted from their clinical values (allow)",
    )
    parser.add_argument(
        "--slices",
        type=int,
        default=None,
        help="NIfTI files: the number of central coronal slices read per "
        "row, as one patient's stack " + default(1),
    )


def add_table_commands(commands):
    """The ``cv``, ``fit`` and ``predict`` sub-commands."""
    cv = commands.add_parser(
        "cv",
        help="cross-validate an estimator on your table of images and clinical "
        "values (subject-grouped folds) and write the per-fold and pooled metrics",
    )
    fit = commands.add_parser("fit", help="fit an estimator on your table and save the model file")
    for parser in (cv, fit):
        _data_arguments(parser)
        parser.add_argument(
            "--estimator",
            choices=CLASSIFIERS,
            default="ClinicalAttentionClassifier",
            help="the fusion network (default ClinicalAttentionClassifier, "
            "mode full unless --param mode=...)",
        )
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="an estimator parameter, e.g. --param mode=concat --param "
            "max_epochs=30 (repeatable; values read as Python literals)",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="seeds the folds, the network's initialisation and its batches (default 0)",
        )
        parser.add_argument(
            "--device",
            default="auto",
            help="where the network trains: auto (a CUDA GPU where there is "
            "one, else the CPU), cpu, cuda or cuda:N (default auto)",
        )
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    cv.add_argument(
        "--folds",
        type=int,
        default=5,
        help="cross-validation folds, grouped by patient and stratified by label (default 5)",
    )
    cv.add_argument(
        "--pos-label", default=None, help="the positive class of a binary target (e.g. AD)"
    )
    cv.add_argument(
        "--output",
        default=None,
        help="folder for the results (default: a new folder under skfusion-cv/)",
    )
    cv.add_argument(
        "--by",
        default=None,
        metavar="COLUMN",
        help="a clinical column whose subgroups the model report compares (e.g. sex)",
    )
    fit.add_argument("--model", required=True, help="the model file to write (.skf)")
    view = commands.add_parser(
        "view",
        help="look before training: write a contact sheet "
        "of your table's images (one per row, titled with id and "
        "label) and list images that look empty or broken",
    )
    _data_arguments(view, target=False)
    view.add_argument(
        "--target",
        default=None,
        help="column of the labels: the sheet is grouped by them (optional)",
    )
    view.add_argument(
        "--output",
        default="contact_sheet.png",
        help="the image file to write (default contact_sheet.png)",
    )
    view.add_argument(
        "--max-images",
        type=int,
        default=120,
        help="at most this many thumbnails, spread over the labels (default 120)",
    )
    view.add_argument("--quiet", action="store_true", help="print nothing but errors")
    predict = commands.add_parser(
        "predict", help="predict your table with a model file and write the predictions as CSV"
    )
    predict.add_argument("model", help="a model file written by fit (or skfusion's save)")
    _data_arguments(predict, target=False)
    predict.add_argument(
        "--predictions",
        required=True,
        help="the CSV file to write: one row per table row, with its "
        "patient id, the predicted class and each class's probability",
    )
    predict.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _literal(text):
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string ("concat")


def _parse_params(parser, pairs):
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            parser.error(f"--param {pair!r}: expected NAME=VALUE, e.g. --param mode=concat.")
        params[name.strip()] = _literal(value.strip())
    return params


def resolve_reading(args, stored=None):
    """Fill the reading options the user left out: from the model file's ``stored`` reading
    (``predict``), else the defaults; returns what the table was read with."""
    stored = stored or {}
    for option in ("image_column", "id_column"):
        if getattr(args, option, None) is None and stored.get(option) is not None:
            setattr(args, option, stored[option])
    for option, default in READING.items():
        if getattr(args, option) is None:
            setattr(args, option, stored.get(option, default))
    return {
        "image_column": args.image_column,
        "id_column": args.id_column,
        **{option: getattr(args, option) for option in READING},
    }


def _read(args, parser, keep=None):
    """``(X, y, groups)`` as the options say; ``keep``: the columns kept as features even
    where they look like identifiers (default ``--keep-column``)."""
    from ..datasets import load_adni, load_table_cohort

    normalize = None if args.normalize == "none" else args.normalize
    if args.adni is not None:
        folder = pathlib.Path(args.adni)
        try:
            return load_adni(
                folder / "ADNIMERGE.csv",
                folder / "ADNI",
                task=args.adni_task,
                missing=args.adni_missing,
                slices=args.slices,
                size=args.size,
                normalize=normalize,
            )
        except (FileNotFoundError, ValueError) as exc:
            parser.exit(2, f"{parser.prog}: error: --adni {args.adni}: {exc}\n")
    try:
        return load_table_cohort(
            args.table,
            image_column=args.image_column,
            target=getattr(args, "target", None),
            id_column=args.id_column,
            root=args.root,
            size=args.size,
            color=args.color,
            normalize=normalize,
            slices=args.slices,
            missing=args.missing,
            keep_id_like=args.keep_column if keep is None else keep,
        )
    except (FileNotFoundError, ValueError, TypeError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


def _estimator(args, parser):
    from .._base.core.settings import Settings
    from .._base.parameters.params import check_routed_params
    from .._base.pretrained.image_weights import check_image_weights
    from .._families.clinical_attention import ClinicalAttentionClassifier
    from .._families.feature_modulation import FeatureModulationClassifier
    from .._families.gated_fusion import GatedFusionClassifier
    from .._net.device import resolve_device

    classes = {
        "ClinicalAttentionClassifier": ClinicalAttentionClassifier,
        "GatedFusionClassifier": GatedFusionClassifier,
        "FeatureModulationClassifier": FeatureModulationClassifier,
    }
    params = {
        **DEFAULTS,
        "device": args.device,
        "random_state": args.seed,
        "verbose": 0 if args.quiet else 1,
        **_parse_params(parser, args.param),
    }
    estimator = classes[args.estimator]()
    try:
        estimator.set_params(**params)
        estimator._validate_params()
        check_routed_params(estimator)
    except (ValueError, TypeError) as exc:
        parser.exit(2, f"{parser.prog}: error: --param: {exc}\n")
    try:
        resolve_device(estimator.device)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: --device {args.device}: {exc}\n")
    try:
        check_image_weights(Settings.of(estimator))  # reads the weights file: fails now
    except (FileNotFoundError, ValueError, TypeError, ImportError) as exc:
        parser.exit(2, f"{parser.prog}: error: --param image_weights: {exc}\n")
    return estimator


def run_table_command(args, parser):
    """Run ``cv``, ``fit`` or ``predict`` as parsed in ``args``."""
    command = "python -m skfusion " + shlex.join(sys.argv[1:])
    if args.command == "predict":
        return _predict(args, parser)
    if args.command == "view":
        return _view(args, parser)
    reading = resolve_reading(args)
    estimator = _estimator(args, parser)  # a bad --param fails before any image is read
    if args.command == "cv" and args.table is not None:
        _check_pos_label(args, parser)  # as do an unknown condition and a wrong --pos-label
    X, y, groups = _read(args, parser)
    say = (lambda *a: None) if args.quiet else print
    absent = 0 if X.present is None else int((~X.present["images"]).sum())
    say(
        f"{len(y)} rows, {len(np.unique(groups))} patients, images {X.images.shape[1:]}"
        + (f" ({absent} rows without an image file, marked missing)" if absent else "")
        + ", "
        f"clinical columns {list(X.clinical.columns)}; classes "
        f"{dict(zip(*(part.tolist() for part in np.unique(y, return_counts=True))))}"
    )
    if args.command == "fit":
        started = time.perf_counter()
        estimator.fit(X, y, groups=groups)
        from .._base.files.model_files import save

        # The file keeps how the table was read: predict reads new tables the same way.
        save(estimator, args.model, reading=None if args.adni is not None else reading)
        source = (
            "--adni " + args.adni + f" --size {args.size} --slices {args.slices}"
            if args.adni is not None
            else "--table NEW.csv"
        )
        say(
            f"fitted in {time.perf_counter() - started:.0f} s; wrote {args.model}. Predict "
            f"new patients with: python -m skfusion predict {args.model} {source} "
            "--predictions predictions.csv"
        )
        return 0
    from ..evaluation import cross_val_diagnostics

    values = None
    if args.by is not None:
        from ..evaluation._report import _subgroup_values

        try:
            values = _subgroup_values(X, args.by)
        except ValueError as exc:
            parser.exit(2, f"{parser.prog}: error: --by {args.by}: {exc}\n")
    output = pathlib.Path(args.output)
    pos_label = None if args.pos_label is None else _label_like(args.pos_label, y)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        folds = cross_val_diagnostics(
            estimator,
            X,
            y,
            groups=groups,
            cv=args.folds,
            pos_label=pos_label,
            output_dir=output,
            random_state=args.seed,
            verbose=0 if args.quiet else 2,
        )
    (output / "settings.json").write_text(
        json.dumps(
            {
                "command": command,
                "estimator": args.estimator,
                "params": {k: repr(v) for k, v in estimator.get_params(deep=False).items()},
                "rows": int(len(y)),
                "patients": int(len(np.unique(groups))),
                "image_shape": list(X.images.shape[1:]),
            },
            indent=1,
        )
    )
    if len(np.unique(y)) == 2:
        _report(estimator, X, y, folds, groups, pos_label, values, args, say)
    say("\nPer fold:\n" + folds.round(3).to_string())
    pooled = folds.attrs.get("pooled")
    if pooled is not None:
        say(
            "\nPooled out-of-fold (95% subject-bootstrap intervals):\n"
            + pooled.round(3).to_string()
        )
    written = sorted(p.name for p in output.iterdir() if not p.name.startswith("."))
    say(f"\nWrote {', '.join(written)} to {output}")  # not the run's hidden marker
    return 0


def _report(estimator, X, y, folds, groups, pos_label, values, args, say):
    """The model report of a binary target (skfusion.evaluation.model_report's page) from
    the folds just run: calibration, decision curve, subgroups, conformal coverage, maps."""
    from ..evaluation._diagnostics import whole_fit_seconds
    from ..evaluation._report import _check, report_from_folds
    from ..metrics import infer_pos_label

    path = pathlib.Path(args.output) / "report.html"
    _, y, labels = _check(X, y, path, 0.1, 4)
    say(
        "model report: one more fit on every patient for its Grad-CAM maps (about "
        f"{whole_fit_seconds(folds):.0f} s)"
    )
    report_from_folds(
        estimator,
        X,
        y,
        folds,
        path=path,
        pos_label=infer_pos_label(labels) if pos_label is None else pos_label,
        groups=groups,
        values=values,
        alpha=0.1,
        n_maps=4,
        n_bootstraps=1000,
        random_state=args.seed,
        verbose=0,
    )


def _label_like(text, y):
    """``--pos-label`` in the type of ``y``'s labels (a number where they are numbers)."""
    labels = np.unique(y)
    for label in labels:
        if str(label) == text:
            return label
    raise SystemExit(f"--pos-label {text!r} is not one of the labels {labels.tolist()}.")


def _view(args, parser):
    """The contact sheet of the table's images (their stored intensities: normalisation only
    if asked) and the list of suspicious ones."""
    from ..datasets import contact_sheet, suspicious_images

    if args.normalize is None:
        args.normalize = "none"  # look at the files as they are
    resolve_reading(args)
    X, y, groups = _read(args, parser)
    shown = contact_sheet(X, y, path=args.output, ids=groups, max_images=args.max_images)
    flagged = suspicious_images(X, ids=groups)
    if not args.quiet:
        absent = 0 if X.present is None else int((~X.present["images"]).sum())
        print(
            f"wrote {args.output}: {len(shown)} of {len(X)} rows"
            + (f"; {absent} without an image file" if absent else "")
        )
        if len(flagged):
            print(f"{len(flagged)} image(s) to check:\n" + flagged.to_string(index=False))
        else:
            print("no image is empty, non-finite or extreme")
    return 0


def _check_pos_label(args, parser):
    """Refuse, before any image is read, a binary target whose positive class neither
    ``--pos-label`` names nor the labels say ({0, 1}, {-1, 1}, booleans)."""
    from ..metrics import infer_pos_label

    columns = _columns(args.table)
    if args.target not in columns or args.image_column not in columns:
        return  # the loader names what is wrong
    sep = "\t" if str(args.table).lower().endswith(".tsv") else ","
    labels = pd.read_csv(args.table, sep=sep, usecols=[args.target])[args.target].dropna()
    found = sorted(map(str, pd.unique(labels)))
    if args.pos_label is not None:
        if args.pos_label not in found:
            parser.exit(
                2,
                f"{parser.prog}: error: --pos-label {args.pos_label!r} is not one "
                f"of the labels {found} of --target {args.target}.\n",
            )
        return
    if len(found) == 2:
        try:
            infer_pos_label(labels.to_numpy())
        except ValueError:
            parser.exit(
                2,
                f"{parser.prog}: error: --target {args.target} holds the labels "
                f"{found}, which do not say which class is the condition; pass "
                f"--pos-label with one of them (e.g. --pos-label {found[0]}).\n",
            )


def _columns(table):
    """The column names of a CSV/TSV table ([] where it cannot be read: the loader then
    says why)."""
    try:
        return list(
            pd.read_csv(
                table, nrows=0, sep="\t" if str(table).lower().endswith(".tsv") else ","
            ).columns
        )
    except (OSError, ValueError):
        return []


def _predict(args, parser):
    from .._base.files.persistence import load, read_reading

    try:
        model = load(args.model)
        stored = read_reading(args.model)
    except (OSError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {args.model}: {exc}\n")
    given_id = args.id_column is not None
    resolve_reading(args, stored)
    if not given_id and args.table is not None and args.id_column not in _columns(args.table):
        args.id_column = None  # the new table has no column of that name: rows are patients
    if args.table is not None and args.image_column is None:
        parser.exit(
            2,
            f"{parser.prog}: error: --table needs --image-column ({args.model} "
            "does not say which column names the images).\n",
        )
    names = getattr(model, "feature_names_in_", None)
    # The model reads only the columns it was fitted on: an id-like column among them was
    # kept when it was fitted, and others are not read at all.
    X, _, groups = _read(args, parser, keep=_columns(args.table) if args.table else None)
    if names is not None:  # the columns the model was fitted on; others (a target) ignored
        absent = [c for c in names if c not in X.clinical.columns]
        if absent:
            parser.exit(
                2,
                f"{parser.prog}: error: --table {args.table} lacks the clinical "
                f"column(s) {absent} the model was fitted on.\n",
            )
        from .._input import FusionInput

        X = FusionInput(
            X.images,
            X.clinical[list(names)],
            subjects=X.subjects,
            layout=X.layout,
            present=X.present,
            channel_names=X.channel_names,
        )
    try:
        proba = model.predict_proba(X)
    except ValueError as exc:
        parser.exit(
            2,
            f"{parser.prog}: error: {exc} (read the table with the --size, "
            "--color, --normalize and --slices the model was fitted with; left out, "
            "they are read from the model file where fit wrote them)\n",
        )
    table = pd.DataFrame(
        {
            "row": np.arange(len(groups)),
            "patient": groups,
            "prediction": model.classes_[proba.argmax(axis=1)],
        }
    )
    for column, label in enumerate(model.classes_):
        table[f"proba_{label}"] = proba[:, column]
    table.to_csv(args.predictions, index=False)
    if not args.quiet:
        print(f"wrote {len(table)} predictions to {args.predictions}")
    return 0
