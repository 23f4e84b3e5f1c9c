"""The skorch layer's net: :class:`FusionNet`, the one place where estimators meet tensors.

Estimators validate numpy/pandas input, build a dataset (``_net.data.make_dataset``: the
datasets and batch iterators live in ``_net.data``) and a :class:`FusionNet` here, and read
numpy arrays back; every torch decision (device, precision, threads, seeding, weight
snapshots) is made here.
"""

import contextlib
import copy
import inspect

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from ..nn.augment import apply_policy, augmentation_policy, drop_modalities
from ..nn.contrastive import corrupt_table
from ..nn.init import he_init_
from ..nn.localization import segmentation_loss
from .data import FusionDataset, LazyBatchLoader, LazyFusionDataset, TensorBatchIterator
from .device import _without_onednn, thread_forward_hook, torch_threads
from .linear_paths import fit_linear, image_path, image_path_values, linear_start, set_linear
from .parallel import data_parallel, shard, world
from .presence import fit_to_module, module_reads, unread_gaps, with_presence
from .refits import recompute_batchnorm

__all__ = ["FusionNet"]


class FusionNet(NeuralNet):
    """A skorch ``NeuralNet`` with channels-last modules and automatic mixed precision.

    Parameters
    ----------
    channels_last : bool, default=False
        Give the module the channels-last memory layout after it is built.
    amp_dtype : torch.dtype or None, default=None
        Run forward passes under ``torch.autocast`` with this dtype. ``torch.float16`` also
        scales the loss with a ``GradScaler``; ``torch.bfloat16`` needs no scaling.
    seed : int, default=0
        Seeds the net's own ``torch.Generator`` (``generator_``), from which the weights are
        initialised and the training-time draws (augmentation, modality dropout) are made;
        torch's global generator is never used, so fits in parallel threads are
        reproducible.
    augment : bool, str, dict or callable, default=False
        Randomly transform training image batches: any value
        :func:`skfusion.nn.augment.augmentation_policy` takes (``"auto"`` never flips
        left-right; ``True`` does).
    modality_dropout : float, default=0.0
        Share of training samples whose image or non-image inputs are dropped: an image is
        marked absent, as a patient without one is
        (:func:`skfusion.nn.augment.drop_modalities`).
    table_corruption : float, default=0.0
        Share of each training row's clinical values replaced by another row's
        (:func:`skfusion.nn.contrastive.corrupt_table`, SCARF), for self-supervised
        pretraining.
    localization_weight : float, default=1.0
        For a module that also returns mask logits (a
        :class:`~skfusion.nn.localization.LocalizingNet`), the weight of the segmentation
        loss (:func:`~skfusion.nn.localization.segmentation_loss` against the batch's
        ``masks``) added to the task's loss; samples whose image modality dropout removed
        are left out of it.
    **kwargs
        Everything ``skorch.NeuralNet`` takes.
    """

    def __init__(
        self,
        module,
        criterion,
        *,
        channels_last=False,
        amp_dtype=None,
        seed=0,
        augment=False,
        modality_dropout=0.0,
        localization_weight=1.0,
        table_corruption=0.0,
        **kwargs,
    ):
        super().__init__(module, criterion, **kwargs)
        self.table_corruption = table_corruption
        self.localization_weight = localization_weight
        self.channels_last = channels_last
        self.amp_dtype = amp_dtype
        self.seed = seed
        self.augment = augment
        self.modality_dropout = modality_dropout

    def _set_training(self, training=True):
        # skorch sets the mode before every step; walking the module tree each time costs
        # about 1% of a small step. Skip it while the same module is still in training mode
        # from the previous step (anything in between that changes the mode, validation or
        # prediction, goes through here and clears the key). Frozen normalisations always
        # take the full path.
        key = (id(getattr(self, "module_", None)), id(getattr(self, "criterion_", None)))
        frozen = getattr(self, "frozen_norms_", ())
        if (
            training
            and not frozen
            and getattr(self, "_training_key", None) == key
            and getattr(self.module_, "training", False)
        ):
            return
        super()._set_training(training)
        self._training_key = key if training else None
        if training:  # frozen pretrained normalisations keep their running statistics
            for module in frozen:
                module.eval()

    def get_dataset(self, X, y=None):
        dataset = super().get_dataset(X, y)
        if isinstance(dataset, FusionDataset) and torch.device(self.device).type == "cuda":
            # Small datasets live on the GPU for the whole fit: no per-batch host transfers.
            nbytes = dataset.images.nbytes + dataset.clinical.nbytes
            free, _ = torch.cuda.mem_get_info(torch.device(self.device))
            if dataset.images.device.type == "cpu" and nbytes < 0.25 * free:
                dataset = dataset.to(self.device)
        return dataset

    def get_iterator(self, dataset, training=False):
        kind = LazyBatchLoader if isinstance(dataset, LazyFusionDataset) else TensorBatchIterator
        configured = self.iterator_train if training else self.iterator_valid
        if configured in (LazyBatchLoader, TensorBatchIterator) and configured is not kind:
            # The data's kind decides, not the fit's: a model fitted on arrays predicts on
            # images read from disk, and the other way round (both take the same options).
            kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            iterator = kind(dataset, **kwargs)
        else:
            iterator = super().get_iterator(dataset, training=training)
        size = world()[1]
        if training and size > 1:
            # Data-parallel: every process needs a sample of every batch, the last included.
            sampler = getattr(iterator, "batch_sampler", iterator)
            if getattr(sampler, "merge_singleton", None) is not None:
                sampler.merge_singleton = max(2, size)
        if isinstance(iterator, TensorBatchIterator):
            # Set here, not as iterator parameters, so that a model trained on a GPU and
            # loaded on a CPU-only machine sends its batches to the device it now has.
            iterator.device = torch.device(self.device)
            iterator.channels_last = self.channels_last
        return iterator

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments, plus ``foreach=True`` where the optimizer takes it
        and the user chose neither ``foreach`` nor ``fused``. On the CPU torch otherwise
        updates the parameters one tensor at a time; a small network's many small tensors
        then cost Adam about a sixth of a fit (the demo's ResNet18 of width 8). The foreach
        kernels compute the same values (the reference outputs did not move) and are
        torch's own choice on CUDA."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if (
            prefix == "optimizer"
            and "foreach" not in kwargs
            and not kwargs.get("fused")
            and _accepts(self.optimizer, "foreach")
        ):
            kwargs["foreach"] = True
        return args, kwargs

    def initialize_criterion(self, *args, **kwargs):
        # Array-valued criterion arguments (class weights) arrive as numpy from the estimator.
        for key, value in list(vars(self).items()):
            if key.startswith("criterion__") and isinstance(value, np.ndarray):
                setattr(self, key, torch.as_tensor(value, dtype=torch.float32))
        return super().initialize_criterion(*args, **kwargs)

    def initialize_seeded(self):
        """``initialize()`` without advancing torch's global generator (the module
        constructors draw from it before :meth:`initialize_module` re-draws from ours)."""
        devices = (
            [torch.device(self.device).index or 0]
            if torch.device(self.device).type == "cuda"
            else []
        )
        with torch.random.fork_rng(devices=devices):
            self.initialize()
        return self

    def set_linear_(self, name, coef, intercept):
        """Set the module's linear path ``name`` ("shortcut", "image_shortcut", or a tuple
        of them: one model on their inputs side by side) from numpy arrays."""
        set_linear(self, name, coef, intercept)

    @property
    def linear_start(self):
        """The module's linear paths (:data:`~skfusion._net.linear_paths.PATHS`): the names
        a task's start sets with :meth:`set_linear_` or :meth:`fit_linear_`."""
        return linear_start(self.module_)

    def has_submodule(self, name):
        """Whether the built module has a (non-None) submodule ``name``."""
        return getattr(self.module_, name, None) is not None

    def fit_linear_(self, name, values, target, alpha):
        """Fit the module's linear path(s) ``name`` alone on ``values`` (numpy; their inputs
        side by side) under the net's criterion plus ``alpha / 2 * ||weight||^2`` on
        standardised values (L-BFGS to convergence), then fold the standardisation back into
        the weights. For tasks without a closed-form linear start (the Cox model)."""
        fit_linear(self, name, values, target, alpha)

    def set_image_components_(self, mean, components, scale):
        """Set the image shortcut's principal components (numpy arrays)."""
        image_path(self.module_).set_components(mean, components, scale)

    def image_path_values(self, dataset, kind, *, threads=None):
        """The image shortcut's pooled values ("pooled": ``(values, present)``) or component
        scores ("scores") over ``dataset``
        (:func:`~skfusion._net.linear_paths.image_path_values`)."""
        return image_path_values(self, dataset, kind, threads)

    @contextlib.contextmanager
    def recording(self, name):
        """Collect the outputs of the module's submodule ``name`` (a dotted path) as numpy
        arrays, one per forward pass, while the block runs."""
        captured = []
        hook = thread_forward_hook(
            self.module_.get_submodule(name),
            lambda module, inputs, output: captured.append(output.detach().float().cpu().numpy()),
        )
        try:
            yield captured
        finally:
            hook.remove()

    def kernels(self):
        """The context every forward and backward pass of this net runs in: on the CPU, 3-D
        convolutions run without oneDNN (mkldnn), whose 3-D convolution backward gave NaN
        gradients at random in torch 2.13 (3 of 36 small trainings here; none of 36 without
        it; ``tests/_base/test_volumes.py``)."""
        uses_3d = any(isinstance(m, torch.nn.Conv3d) for m in self.module_.modules())
        if uses_3d and torch.device(self.device).type == "cpu":
            return _without_onednn()
        return contextlib.nullcontext()

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if not self.initialized_:
            self.initialize()
        if world()[0] > 0:  # in a data-parallel fit, the first process reports
            self.verbose = 0
        with self.kernels(), data_parallel(self):
            return super().partial_fit(X, y, classes=classes, **fit_params)

    def recompute_batchnorm(self, dataset, *, threads=None):
        """Precise batch normalisation (Wu and Johnson, "Rethinking 'Batch' in BatchNorm",
        2021): replace the running statistics of every trained batch-normalisation layer by
        the mean and (unbiased) variance of its inputs over ``dataset`` (the training
        samples), computed with the final weights and the inputs as prediction reads them
        (no augmentation, no modality dropout). Each layer normalises with its batch's
        statistics during the pass, as in training.

        The running averages kept during training lag the weights (momentum 0.1 over the
        last steps, while the weights still move) and saw augmented, partly dropped inputs;
        on the built-in cohort they shifted the fused networks' probabilities towards one
        class (mean predicted AD probability 0.71 for a prevalence of 0.53; recomputed:
        0.53, accuracy 0.79 -> 0.93). Frozen layers (loaded image weights) keep theirs.

        Every sample weighs the same (the moments of the whole set, not a mean of per-batch
        values), and the image encoder's layers see only the samples that have an image:
        those come first in the pass, in batches of their own, and the encoder never reads an
        absent sample's placeholder (:func:`skfusion.nn.presence.present_only`). The pass
        reads at most :data:`~skfusion._net.refits.PRECISE_BN_PIXELS` image values (and at
        least 256 samples; a random subset beyond that), so its cost is bounded; the
        moments come from each layer's own batch statistics (no activation is read twice). A
        last batch of one sample joins the one before it. Every process of a data-parallel
        fit reads the same batches, so the statistics agree. Returns the number of batches read."""
        return recompute_batchnorm(self, dataset, threads)

    def snapshot(self):
        """Copies of the weights, optimizer state and history length (see :meth:`restore`)."""
        return (
            {k: v.detach().clone() for k, v in self.module_.state_dict().items()},
            copy.deepcopy(self.optimizer_.state_dict()),
            len(self.history),
        )

    def restore(self, snapshot):
        """Return to a :meth:`snapshot`: weights, optimizer state and history."""
        weights, optimizer_state, n_epochs = snapshot
        self.module_.load_state_dict(weights)
        self.optimizer_.load_state_dict(optimizer_state)
        del self.history[n_epochs:]

    def predict_outputs(self, dataset, *, threads=None):
        """The module's first output for ``dataset`` as a float64 numpy array
        ``(n, n_outputs)``, in inference mode."""
        with torch.inference_mode(), torch_threads(threads), self.kernels():
            outputs = self.forward(dataset)
        if isinstance(outputs, tuple):
            outputs = outputs[0]
        return outputs.double().cpu().numpy()

    def predict_part(self, dataset, index, *, threads=None):
        """Output ``index`` of a module that returns several (a localising module's mask
        logits: 1) for ``dataset``, as a float32 numpy array, in inference mode."""
        parts = []
        with torch.inference_mode(), torch_threads(threads), self.kernels():
            for outputs in self.forward_iter(dataset, training=False):
                parts.append(outputs[index].float().cpu().numpy())
        return np.concatenate(parts)

    def meta_state_shapes(self):
        """Parameter name -> shape of the module its parameters describe, sized on torch's
        ``meta`` device (nothing is allocated)."""
        with torch.device("meta"):
            probe = self.module(**self.get_params_for("module"))
        return {k: tuple(v.shape) for k, v in probe.state_dict().items()}

    def load_saved_state(self, state, optimizer_state=None, generator_state=None):
        """Load weights (strictly), an optimizer state and the generator state into an
        initialised net."""
        self.module_.load_state_dict(state, strict=True)
        if optimizer_state is not None:
            self.optimizer_.load_state_dict(optimizer_state)
        if generator_state is not None:
            self.generator_.set_state(torch.tensor(generator_state, dtype=torch.uint8))

    def initialize_module(self):
        self._training_key = None
        self.generator_ = torch.Generator().manual_seed(int(self.seed))
        super().initialize_module()
        # The module's constructor drew from torch's global generator; draw again from ours.
        he_init_(self.module_, generator=self.generator_)
        self.draws_in_module_ = any(
            isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in self.module_.modules()
        )
        if self.channels_last:
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        return self

    def initialize(self):
        super().initialize()
        device_type = torch.device(self.device).type
        use_scaler = self.amp_dtype == torch.float16
        self.grad_scaler_ = torch.amp.GradScaler(device_type) if use_scaler else None
        return self

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=self.amp_dtype)

    def infer(self, x, **fit_params):
        if isinstance(x, dict):
            x = fit_to_module(
                x,
                module_reads(self.module_),
                type(self.module_).__name__,
                zero_dropped=self.module_.training and not getattr(self, "_gaps_in_data", False),
            )
        if self.channels_last and isinstance(x, dict) and x["images"].dim() == 4:
            x = {
                **x,
                "images": x["images"].to(self.device).contiguous(memory_format=torch.channels_last),
            }
        parallel = getattr(self, "parallel_view", None)
        with self._autocast():
            if parallel is not None and self.module_.training:  # a data-parallel step
                y_pred = parallel(
                    **self._merge_x_and_fit_params(
                        {k: v.to(self.device) for k, v in x.items()}, fit_params
                    )
                )
            else:
                y_pred = super().infer(x, **fit_params)
        if self.amp_dtype is not None:
            y_pred = (
                tuple(part.float() for part in y_pred)
                if isinstance(y_pred, tuple)
                else y_pred.float()
            )
        return y_pred

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            # skorch swallows the interrupt; remember it, wherever it landed, unless it is
            # skorch's EarlyStopping ending training (it stops by raising KeyboardInterrupt).
            self.keyboard_interrupt_ = not any(
                isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
                for _, cb in self.callbacks_
            )
            raise

    # -- one training step: the training view of a batch, this process's shard, the loss ----

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The task's loss; for a localising module (outputs, mask logits) plus
        ``localization_weight`` times the segmentation loss against ``X["masks"]``."""
        if not isinstance(y_pred, tuple):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        outputs, mask_logits = y_pred
        loss = super().get_loss(outputs, y_true, X=X, training=training)
        masks = X.get("masks") if isinstance(X, dict) else None
        if masks is None or not self.localization_weight:
            return loss
        # Samples without an image (or whose image modality dropout removed) show nothing
        # to localise.
        keep = X.get("image_present")
        return loss + self.localization_weight * segmentation_loss(mask_logits, masks, keep)

    def training_inputs(self, inputs):
        """The training view of a batch: augmented images, dropped modalities."""
        if not isinstance(inputs, dict):
            return inputs
        policy = augmentation_policy(self.augment)
        if policy is not None and inputs.get("masks") is not None:  # masks move with images
            images, masks = apply_policy(
                policy, inputs["images"], self.generator_, masks=inputs["masks"]
            )
            inputs = {**inputs, "images": images, "masks": masks}
        elif policy is not None:
            inputs = {**inputs, "images": apply_policy(policy, inputs["images"], self.generator_)}
        reads = module_reads(self.module_)
        # Gaps in the data itself (not modality dropout's) that the module cannot take.
        self._gaps_in_data = unread_gaps(inputs, reads)
        inputs = with_presence(inputs, reads)
        if self.modality_dropout:
            inputs = drop_modalities(inputs, self.modality_dropout, self.generator_)
        if getattr(self, "table_corruption", 0) and inputs.get("clinical") is not None:
            inputs = {
                **inputs,
                "clinical": corrupt_table(
                    inputs["clinical"], self.table_corruption, self.generator_
                ),
            }
        return inputs

    def _module_draws(self):
        """A context in which the module's own random layers (dropout) draw from a seed taken
        from the net's generator, with torch's global generator saved and restored around
        it: reproducible fits that leave the global generator alone."""
        draws = getattr(self, "draws_in_module_", None)
        if draws is None:  # a net unpickled from before this attribute existed
            draws = self.draws_in_module_ = any(
                isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in self.module_.modules()
            )
        if not draws:
            return contextlib.nullcontext()
        seed = int(torch.randint(2**62, (1,), generator=self.generator_))
        device = torch.device(self.device)
        stack = contextlib.ExitStack()
        stack.enter_context(
            torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [])
        )
        torch.manual_seed(seed)
        return stack

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = self.training_inputs(Xi)  # the whole batch, alike in every process
        rank, size = world()
        parallel = getattr(self, "parallel_view", None) is not None
        if parallel:  # data-parallel: this process's shard
            Xi, share = shard(Xi, rank, size)
            yi, _ = shard(yi, rank, size)
        with self._module_draws():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        logged = loss
        if parallel:
            # Gradients are averaged across processes: weight each shard's mean loss by its
            # share of the batch, so the average is the gradient of the whole batch.
            loss = loss * (share * size)
            logged = loss.detach().clone()
            torch.distributed.all_reduce(logged)
            logged = logged / size
        if self.grad_scaler_ is None:
            loss.backward()
        else:
            self.grad_scaler_.scale(loss).backward()
        return {"loss": logged, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        if self.grad_scaler_ is None:
            return super().train_step(batch, **fit_params)
        # Loss scaling for float16: unscale before callbacks see the gradients (clipping),
        # then let the scaler skip steps with inf/NaN gradients.
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        self.grad_scaler_.unscale_(self.optimizer_)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()
        return step


def _accepts(function, name):
    """Whether ``function`` (an optimizer class or factory) takes the keyword ``name``."""
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
