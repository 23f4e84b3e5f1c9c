"""skfusion 0.3's module paths, resolved on demand after the package was grouped into layer
subpackages (0.4), so that pickles and joblib files of 0.3 estimators (and of lazy image
collections, ``skfusion.datasets._lazy.NiftiSlices``...) keep loading until 0.5.

A finder at the end of ``sys.meta_path`` answers only for the names below, and only when a
pickle (or a user) imports one: it costs nothing until then and keeps lazy imports lazy. The
old name then refers to the same module object as the new one. Model files (``.skf``) never
held module paths and need none of this.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["MOVED", "install"]

#: 0.3's module -> the module that holds its contents now.
MOVED = {
    f"skfusion.{old}": f"skfusion.{new}"
    for old, new in {
        "_batches": "_net.data",
        "_training": "_net.callbacks",
        "_training_step": "_net.net",
        "_decoding": "_net.decoding",
        "_parallel": "_net.parallel",
        "_gradcam": "_net.maps",
        "_export": "_net.export_graph",
        "_progress": "_net.progress",
        "_core": "_base.core.estimator",
        "_building": "_base.core.building",
        "_params": "_base.parameters.params",
        "_docstrings": "_base.parameters.docstrings",
        "_inputs_check": "_base.inputs.input_checks",
        "_validation": "_base.inputs.validation",
        "_masks": "_base.inputs.masks",
        "_text": "_base.inputs.text",
        "_persistence": "_base.files.persistence",
        "_model_files": "_base.files.model_files",
        "_safe_names": "_base.files.safe_names",
        "_weights": "_base.pretrained.weights",
        "_image_weights": "_base.pretrained.image_weights",
        "_localizing": "_base.core.localizing",
        "_exporting": "_base.core.exporting",
        "_fitting": "_base.core.fitting",
        "_cv": "_base.core.cv",
        "_explaining": "_base.core.explaining",
        "_classification": "_tasks.classification",
        "_regression": "_tasks.regression",
        "_survival": "_tasks.survival",
        "_concordance": "_tasks.concordance",
        "_report_generation": "_tasks.generation",
        "_pretraining": "_tasks.pretraining",
        "_clinical_attention": "_families.clinical_attention",
        "_gated_fusion": "_families.gated_fusion",
        "_feature_modulation": "_families.feature_modulation",
        "_report_fusion": "_families.report_fusion",
        "_subject_metrics": "metrics._subject",
        "_survival_metrics": "metrics._survival",
        "_text_metrics": "_tasks.text_scores",
        "_attributions": "explain._attributions",
        "_importance": "explain._importance",
        "_tune_cli": "_cli.tune",
        "_cli_checks": "_cli.checks",
        "_demo": "_cli.demo",
        # 0.4 grouped the core by concern: core, parameters, inputs, files, pretrained.
        "_base.estimator": "_base.core.estimator",
        "_base.training": "_base.core.training",
        "_base.building": "_base.core.building",
        "_base.settings": "_base.core.settings",
        "_base.checked": "_base.core.checked",
        "_base.encoders": "_base.core.encoders",
        "_base.contract": "_base.core.contract",
        "_base.convergence": "_base.core.convergence",
        "_base.linear_start": "_base.core.linear_start",
        "_base.fitting": "_base.core.fitting",
        "_base.cv": "_base.core.cv",
        "_base.explaining": "_base.core.explaining",
        "_base.localizing": "_base.core.localizing",
        "_base.exporting": "_base.core.exporting",
        "_base.params": "_base.parameters.params",
        "_base.shared_params": "_base.parameters.shared_params",
        "_base.docstrings": "_base.parameters.docstrings",
        "_base.input_checks": "_base.inputs.input_checks",
        "_base.validation": "_base.inputs.validation",
        "_base.masks": "_base.inputs.masks",
        "_base.text": "_base.inputs.text",
        "_base.presence": "_base.inputs.presence",
        "_base.persistence": "_base.files.persistence",
        "_base.file_checks": "_base.files.file_checks",
        "_base.atomic": "_base.files.atomic",
        "_base.safe_names": "_base.files.safe_names",
        "_base.model_files": "_base.files.model_files",
        "_base.checkpoint": "_base.files.checkpoint",
        "_base.weights": "_base.pretrained.weights",
        "_base.image_weights": "_base.pretrained.image_weights",
        # 0.4 grouped the data sets by kind: readers, public cohorts, simulated cohorts.
        "datasets._dicom": "datasets._readers.dicom",
        "datasets._dicom_volumes": "datasets._readers.dicom_volumes",
        "datasets._images": "datasets._readers.images",
        "datasets._lazy": "datasets._readers.lazy",
        "datasets._limits": "datasets._readers.limits",
        "datasets._nifti": "datasets._readers.nifti",
        "datasets._sequences": "datasets._readers.sequences",
        "datasets._volumes": "datasets._readers.volumes",
        "datasets._table": "datasets._readers.table",
        "datasets._layout": "datasets._readers.layout",
        "datasets._adni": "datasets._public.adni",
        "datasets._adni_replica": "datasets._public.adni_replica",
        "datasets._brats": "datasets._public.brats",
        "datasets._mimic_cxr": "datasets._public.mimic_cxr",
        "datasets._oasis": "datasets._public.oasis",
        "datasets._cohort": "datasets._simulated.cohort",
        "datasets._cohort_clinical": "datasets._simulated.cohort_clinical",
        "datasets._cohort_images": "datasets._simulated.cohort_images",
        "datasets._cohort_reports": "datasets._simulated.cohort_reports",
        "datasets._site": "datasets._simulated.site",
        "datasets._synthetic": "datasets._simulated.synthetic",
    }.items()
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds 0.3's module names and loads each as the module that holds it now."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None  # a placeholder, replaced in sys.modules by exec_module

    def exec_module(self, module):
        # The import system returns what sys.modules holds under the name after this call:
        # the new module itself, whose own __spec__ stays untouched.
        sys.modules[module.__name__] = importlib.import_module(MOVED[module.__name__])


def install():
    """Put the finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
