"""Several co-registered sequences per patient (T1, T1c, T2, FLAIR...) read as named image
channels: ``load_nifti_volumes({"t1": paths, "flair": paths})``."""

import os

import numpy as np

__all__ = ["check_grids", "load_sequences", "sequence_paths"]

#: Largest difference between two sequences' affines (mm) still read as one grid.
AFFINE_TOLERANCE = 1e-3


def sequence_paths(sequences, loader):
    """The sequences as ``(names, lists of paths)``, checked: names are non-empty strings,
    every sequence has one file per patient."""
    names = list(sequences)
    if not names:
        raise ValueError(
            f"{loader} got an empty dict of sequences; pass e.g. "
            "{'t1': t1_paths, 'flair': flair_paths}."
        )
    bad = [n for n in names if not (isinstance(n, str) and n.strip())]
    if bad:
        raise ValueError(f"{loader}: sequence names must be non-empty strings; got {bad}.")
    lists = []
    for name in names:
        paths = sequences[name]
        paths = [paths] if isinstance(paths, str) else [str(p) for p in paths]
        lists.append(paths)
    absent = [
        f"{name}: {path}"
        for name, paths in zip(names, lists)
        for path in paths
        if not os.path.isfile(path)
    ]
    if absent:
        raise FileNotFoundError(
            f"{loader}: {len(absent)} sequence file(s) do not exist "
            f"({', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''})."
        )
    lengths = {name: len(paths) for name, paths in zip(names, lists)}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"{loader}: every sequence needs one file per patient, in the same "
            f"patient order; got {lengths} files."
        )
    return names, lists


def check_grids(names, lists, volume=None):
    """Refuse sequences of one patient that are not on one voxel grid (same shape, same
    affine): stacking them as channels would put different anatomy under one voxel."""
    import nibabel as nib

    for patient, paths in enumerate(zip(*lists)):
        reference = None
        for name, path in zip(names, paths):
            image = nib.load(path)
            shape = tuple(image.shape[:3])
            if reference is None:
                reference = (name, shape, image.affine)
                continue
            same = shape == reference[1] and np.allclose(
                image.affine, reference[2], atol=AFFINE_TOLERANCE
            )
            if not same:
                raise ValueError(
                    f"patient {patient}: sequence {name!r} ({path}, shape {shape}) is not on "
                    f"the grid of {reference[0]!r} (shape {reference[1]}, affine "
                    f"{np.round(reference[2], 3).tolist()} vs "
                    f"{np.round(image.affine, 3).tolist()}). Sequences become channels of "
                    "one image only when co-registered on one grid: resample them to a "
                    "reference first (e.g. nilearn.image.resample_to_img, ANTs or FSL "
                    "FLIRT), then save and load them again."
                )


def load_sequences(loader, sequences, read, *, lazy, missing="raise"):
    """Read each sequence with ``read(paths)`` and stack them on axis 1 (the channels)."""
    where = f"{loader}(dict of sequences)"
    if lazy:
        raise ValueError(
            f"{where}: lazy=True reads one sequence per patient for now; read "
            "several sequences eagerly (lazy=False), or one sequence lazily."
        )
    if missing != "raise":
        raise ValueError(
            f"{where}: missing={missing!r} is not supported with several "
            "sequences yet (a patient could lack one sequence only); drop "
            "patients without every sequence first."
        )
    names, lists = sequence_paths(sequences, loader)
    check_grids(names, lists)
    arrays = [read(paths) for paths in lists]
    return names, np.stack(arrays, axis=1)
