"""What training reads from an estimator, read once: its parameters and what they imply (the
inputs its network reads, whether it fuses them, what it holds out, its module and net
classes), as one frozen value. The steps that build and train a network take this value, not
the estimator, so each says in its signature what it reads and none can change the estimator.
"""

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Mapping

from ..parameters.params import routed_params

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """An estimator's parameters and what they imply, at the start of one ``fit``.

    The parameters read as attributes (``settings.lr``); the rest are fields.
    """

    #: The estimator's class: its name for messages, its family's contract.
    family: type
    #: ``ClinicalAttentionClassifier(mode='full')``: how messages name the configuration.
    description: str
    #: Every parameter (``get_params(deep=False)``, routed ones included).
    params: Mapping[str, Any]
    #: The routed ``prefix__name`` parameters, passed to the skorch net as they are.
    routed: Mapping[str, Any]
    #: The family's own parameters its torch module takes.
    module_params: Mapping[str, Any]
    module_class: type
    net_class: type
    #: The network reads clinical values / has an image path / fuses an image with other
    #: inputs for one prediction (modality dropout and the clinical shortcut then apply) /
    #: gets the linear image path.
    uses_clinical: bool
    reads_images: bool
    multimodal: bool
    has_image_shortcut: bool
    #: The settings that make fit hold out validation subjects, each written as the
    #: assignment that turns it off (empty: nothing is held out).
    held_out: tuple
    #: Why the targets forbid left-right flips (None: flips are the user's call).
    flip_refusal: Any
    #: The task's callbacks recording validation metrics beyond the loss.
    monitor_callbacks: tuple

    @classmethod
    def of(cls, estimator):
        """The settings of ``estimator`` as its parameters stand now."""
        params = {**estimator.get_params(deep=False)}
        return cls(
            family=type(estimator),
            description=estimator._describe_config(),
            params=MappingProxyType(params),
            routed=MappingProxyType(routed_params(estimator)),
            module_params=MappingProxyType(estimator._module_params()),
            module_class=estimator._module_class,
            net_class=estimator._net_class,
            uses_clinical=estimator._uses_clinical(),
            reads_images=estimator._reads_images(),
            multimodal=estimator._is_multimodal(),
            has_image_shortcut=estimator._has_image_shortcut(),
            held_out=tuple(estimator._hold_out_settings()),
            flip_refusal=estimator._flip_refusal,
            monitor_callbacks=tuple(estimator._monitor_callbacks()),
        )

    def __post_init__(self):
        clash = sorted(set(self.params) & {f.name for f in fields(self)})
        if clash:
            raise TypeError(f"{self.family.__name__}: parameters {clash} shadow Settings' fields")
        for name, value in self.params.items():  # the parameters as plain attributes
            object.__setattr__(self, name, value)
