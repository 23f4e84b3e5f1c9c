"""One training step of the net layer: the training view of a batch (augmentation, modality
dropout), this process's shard of it in a data-parallel fit, the loss (the task's, plus the
localisation head's), backward with or without loss scaling."""

import contextlib

import torch
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from .parallel import shard, world
from ..nn.augment import apply_policy, augmentation_policy, drop_modalities
from ..nn.contrastive import corrupt_table
from ..nn.localization import segmentation_loss

__all__ = ["TrainingStepMixin"]


class TrainingStepMixin:
    """Training-step methods of :class:`skfusion._net.net.FusionNet`."""

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
        # Images that modality dropout zeroed show nothing to localise.
        keep = X["images"].flatten(1).abs().amax(dim=1) > 0
        return loss + self.localization_weight * segmentation_loss(mask_logits, masks, keep)

    def training_inputs(self, inputs):
        """The training view of a batch: augmented images, dropped modalities."""
        if not isinstance(inputs, dict):
            return inputs
        policy = augmentation_policy(self.augment)
        if policy is not None and inputs.get("masks") is not None:  # masks move with images
            images, masks = apply_policy(policy, inputs["images"], self.generator_,
                                         masks=inputs["masks"])
            inputs = {**inputs, "images": images, "masks": masks}
        elif policy is not None:
            inputs = {**inputs, "images": apply_policy(policy, inputs["images"],
                                                       self.generator_)}
        if self.modality_dropout:
            inputs = drop_modalities(inputs, self.modality_dropout, self.generator_)
        if getattr(self, "table_corruption", 0) and inputs.get("clinical") is not None:
            inputs = {**inputs, "clinical": corrupt_table(inputs["clinical"],
                                                          self.table_corruption,
                                                          self.generator_)}
        return inputs

    def _module_draws(self):
        """A context in which the module's own random layers (dropout) draw from a seed taken
        from the net's generator, with torch's global generator saved and restored around
        it: reproducible fits that leave the global generator alone."""
        draws = getattr(self, "draws_in_module_", None)
        if draws is None:  # a net unpickled from before this attribute existed
            draws = self.draws_in_module_ = any(
                isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in self.module_.modules())
        if not draws:
            return contextlib.nullcontext()
        seed = int(torch.randint(2**62, (1,), generator=self.generator_))
        device = torch.device(self.device)
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(
            devices=[device.index or 0] if device.type == "cuda" else []))
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
