"""Checks of the command line's arguments and output folder, made before any work (a cohort
built or a trial run), each naming the option, what it got and what it takes."""

import math
import os
import pathlib
import re
import uuid

__all__ = ["check_arguments", "claim_output", "mask_credentials", "release_output"]

MODES = ("image", "clinical", "concat", "full")
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<rest>.*)$", re.IGNORECASE)
_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg2", "postgres", "mysql", "mysql+pymysql")
#: The marker a run leaves in its output folder; a second run on the folder is refused.
MARKER = ".skfusion-run"


def mask_credentials(url):
    """``url`` with any password replaced by ``***`` (in the authority part, and in
    ``password=`` query parameters)."""
    if not isinstance(url, str):
        return url
    masked = re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)
    return re.sub(r"((?:password|passwd|pwd)=)[^&]*", r"\1***", masked, flags=re.IGNORECASE)


def _positive(parser, option, value, *, allow_none=False, integer=True, low=1):
    if value is None and allow_none:
        return
    ok = value is not None and (math.isfinite(value) if not integer else True) and value >= low
    if not ok:
        kind = "a whole number" if integer else "a number"
        parser.error(f"{option} {value}: expected {kind} >= {low}.")


def _check_storage(parser, storage, heartbeat):
    if storage is None:
        return
    shown = mask_credentials(storage)
    match = _URL.match(storage.strip())
    if not storage.strip() or match is None:
        parser.error(
            f"--storage {shown!r}: not a database URL; expected e.g. "
            "sqlite:///study.db or postgresql://user@host/db (leave --storage out "
            "for an in-memory study)."
        )
    scheme = match["scheme"].lower()
    if scheme not in _SCHEMES:
        parser.error(
            f"--storage {shown!r}: unsupported scheme {scheme!r}; expected one of {list(_SCHEMES)}."
        )
    if scheme == "sqlite":
        path = match["rest"][1:] if match["rest"].startswith("/") else match["rest"]
        path = path.split("?", 1)[0]
        if path in ("", ":memory:"):
            parser.error(
                f"--storage {shown!r}: an in-memory SQLite database is private to "
                "one process and cannot hold heartbeats; leave --storage out for an "
                "in-memory study, or name a file (sqlite:///study.db)."
            )
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            parser.error(f"--storage {shown!r}: the folder {folder} does not exist.")
    elif scheme.startswith("postgres"):
        try:
            from sqlalchemy import create_engine

            engine = create_engine(storage, connect_args={"connect_timeout": 10})
            with engine.connect():
                pass
            engine.dispose()
        except Exception as exc:  # the drivers raise their own types
            first = mask_credentials(str(exc).splitlines()[0][:200]) if str(exc) else ""
            parser.error(f"--storage {shown!r}: cannot connect ({type(exc).__name__}: {first}).")


def check_arguments(parser, args):
    """Every argument of ``args`` checked; ``parser.error`` (exit 2, usage shown) names the
    first bad one."""
    if args.command in ("cv", "fit", "predict", "view"):
        _check_table_arguments(parser, args)
        return
    _positive(parser, "--folds", args.folds, low=2)
    _positive(parser, "--epochs", args.epochs, allow_none=args.command == "demo")
    _positive(
        parser,
        "--subjects",
        args.subjects,
        allow_none=args.command == "demo",
        low=max(4, 2 * args.folds),
    )
    if args.command == "demo":
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        unknown = [m for m in modes if m not in MODES]
        if not modes or unknown:
            parser.error(
                f"--modes {args.modes!r}: expected a comma-separated list of "
                f"{list(MODES)}" + (f"; unknown {unknown}." if unknown else ".")
            )
        args.modes = ",".join(modes)
        return
    _positive(parser, "--n-trials", args.n_trials)
    _positive(parser, "--threads", args.threads, allow_none=True)
    _positive(parser, "--timeout", args.timeout, allow_none=True, integer=False, low=1e-9)
    _positive(parser, "--heartbeat", args.heartbeat, integer=False, low=1)
    _check_storage(parser, args.storage, args.heartbeat)


def _check_table_arguments(parser, args):
    if args.adni is not None:
        if not os.path.isfile(os.path.join(args.adni, "ADNIMERGE.csv")):
            parser.error(
                f"--adni {args.adni}: no ADNIMERGE.csv in that folder; pass the "
                "folder holding ADNIMERGE.csv and the ADNI/ image tree."
            )
    elif not os.path.isfile(args.table):
        parser.error(
            f"--table {args.table}: no such file; pass the CSV or TSV file that names the images."
        )
    else:
        absent = [
            flag
            for flag in ("--image-column", "--target")
            if getattr(args, flag[2:].replace("-", "_"), "") is None
            and not (args.command == "predict" and flag == "--image-column")
            and not (args.command == "view" and flag == "--target")
        ]
        if absent:
            parser.error(f"--table needs {' and '.join(absent)}.")
    if args.root is not None and not os.path.isdir(args.root):
        parser.error(f"--root {args.root}: no such folder.")
    _positive(parser, "--size", args.size, allow_none=True)
    _positive(parser, "--slices", args.slices, allow_none=True)
    if args.command == "cv":
        _positive(parser, "--folds", args.folds, low=2)
    if args.command == "fit":  # the model file can be written: checked before training
        folder = os.path.dirname(os.path.abspath(args.model))
        if not os.path.isdir(folder):
            parser.error(f"--model {args.model}: the folder {folder} does not exist.")
        if os.path.isdir(args.model):
            parser.error(
                f"--model {args.model}: is a folder; pass the path of the model file "
                f"to write, e.g. {os.path.join(args.model, 'model.skf')}."
            )
        _check_writable(parser, "--model", args.model, folder)
    if args.command == "predict":
        if not os.path.isfile(args.model):
            parser.error(
                f"model {args.model}: no such file; pass a model file written by "
                "python -m skfusion fit (or an estimator's save)."
            )
        folder = os.path.dirname(os.path.abspath(args.predictions))
        if not os.path.isdir(folder):
            parser.error(f"--predictions {args.predictions}: the folder {folder} does not exist.")
        if os.path.isdir(args.predictions):
            parser.error(
                f"--predictions {args.predictions}: is a folder; pass the path of "
                "the CSV file to write."
            )
        _check_writable(parser, "--predictions", args.predictions, folder)
    if args.command == "view":
        _check_view_output(parser, args)


def _check_view_output(parser, args):
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder) or os.path.isdir(args.output):
        parser.error(
            f"--output {args.output}: expected an image file path in an existing "
            "folder, e.g. contact_sheet.png."
        )
    _check_writable(parser, "--output", args.output, folder)
    _positive(parser, "--max-images", args.max_images)


def _check_writable(parser, option, path, folder):
    """Refuse a file that cannot be written in ``folder`` (a probe file, removed at once)."""
    try:
        probe = os.path.join(folder, f".skfusion-write-test-{uuid.uuid4().hex[:8]}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as exc:
        parser.error(
            f"{option} {path}: cannot write in {folder} ({exc.strerror or exc}); "
            "pass a path in a writable folder."
        )


def release_output(folder, created):
    """Undo :func:`claim_output` for a run that ended without writing a result: its marker
    goes, and so does the folder where the run made it and left it empty, so that the
    corrected run can use the same ``--output``."""
    folder = pathlib.Path(folder)
    if not folder.is_dir() or any(p.name != MARKER for p in folder.iterdir()):
        return
    (folder / MARKER).unlink(missing_ok=True)
    if created:
        try:
            folder.rmdir()
        except OSError:
            pass


def claim_output(parser, folder):
    """Make sure results can be written to ``folder`` before the run, and claim it: a marker
    file created exclusively, so a second run given the same folder is refused instead of
    overwriting the first one's files."""
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        parser.error(f"--output {folder}: is a file; pass a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".skfusion-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        parser.error(
            f"--output {folder}: cannot write there ({exc.strerror or exc}); pass a "
            "writable folder."
        )
    try:
        handle = os.open(folder / MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        parser.error(
            f"--output {folder}: another run used or is using this folder (it holds "
            f"{MARKER}); pass another folder, or leave --output out (each run then "
            "writes to a new folder)."
        )
    with os.fdopen(handle, "w") as stream:
        stream.write(f"pid {os.getpid()}\n")
    return folder
