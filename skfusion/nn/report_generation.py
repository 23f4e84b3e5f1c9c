"""Report generation: a CNN encoder and an LSTM decoder with soft visual attention over the
feature map (Xu et al., "Show, Attend and Tell", ICML 2015), optionally conditioned on
clinical values; teacher forcing in training, greedy or beam-search decoding."""

import torch
from torch import nn

from ._checks import check_positive_int
from .clinical import ClinicalEncoder
from .init import he_init_
from .resnet import ResNet

__all__ = ["BOS", "EOS", "PAD", "ReportGeneratorNet", "SequenceCrossEntropy"]

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class SequenceCrossEntropy(nn.Module):
    """Cross-entropy of next-word logits ``(n, L - 1, V)`` against token ids ``(n, L)``
    (``<bos> w1 ... wk <eos> <pad>...``): position t predicts token t + 1; padding is
    ignored. The mean is over every real target word of the batch."""

    def forward(self, logits, tokens):
        targets = tokens[:, 1 : logits.shape[1] + 1]
        return nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=PAD
        )


class ReportGeneratorNet(nn.Module):
    """Write a report from an image (and clinical values).

    Encoder: a :class:`~skfusion.nn.resnet.ResNet`'s last feature map, read as P positions
    of C features. Decoder: an LSTM cell; at each step, additive attention over the P
    positions from the hidden state, ``alpha = softmax(w^T tanh(W_f f_p + W_h h))``, a
    context ``z = beta * sum_p alpha_p f_p`` with Show-Attend-Tell's gate
    ``beta = sigmoid(W_b h)``, the LSTM reads ``[embedding(previous word), z]`` and the next
    word's logits come from ``[h, z]`` (dropout before the output layer). The initial state is
    a tanh projection of the mean feature (and the clinical embedding, when there are
    clinical values: the only way they enter, so they can shape the whole report).
    Show-Attend-Tell's doubly stochastic attention penalty is left out (our choice: with
    the short reports here, the gate alone kept attention from collapsing).

    Parameters
    ----------
    n_outputs : int
        Vocabulary size (token ids 0 pad, 1 unknown, 2 begin, 3 end, words from 4).
    n_clinical : int
        Clinical values per sample (0: none).
    in_channels, backbone, base_width, norm_layer, stem, spatial_dims
        The ResNet encoder's (see :class:`~skfusion.nn.resnet.ResNet`).
    embedding_dim, hidden_size, attention_dim, clinical_dim : int
        Word embedding, LSTM state, attention and clinical embedding sizes.
    dropout : float, default=0.3
    clinical_shortcut : bool, default=False
        Accepted for the estimator contract; a generator has no shortcut.

    Notes
    -----
    ``forward(images, clinical, tokens)`` (teacher forcing) returns next-word logits
    ``(n, L - 1, V)``; :meth:`generate` decodes. Attention weights of each step pass through
    ``self.attention_out`` (an identity, for hooks): shape ``(n, P)``.
    """

    def __init__(
        self,
        n_outputs,
        n_clinical=0,
        in_channels=1,
        backbone="resnet18",
        base_width=64,
        embedding_dim=64,
        hidden_size=128,
        attention_dim=64,
        clinical_dim=32,
        dropout=0.3,
        norm_layer=None,
        stem="standard",
        spatial_dims=2,
        clinical_shortcut=False,
    ):
        super().__init__()
        check_positive_int("n_outputs", n_outputs, minimum=5)
        for name, value in (
            ("embedding_dim", embedding_dim),
            ("hidden_size", hidden_size),
            ("attention_dim", attention_dim),
        ):
            check_positive_int(name, value)
        self.image_encoder = ResNet(
            backbone,
            in_channels=in_channels,
            base_width=base_width,
            norm_layer=norm_layer,
            stem=stem,
            spatial_dims=spatial_dims,
        )
        features = self.image_encoder.out_features
        self.clinical_encoder = ClinicalEncoder(n_clinical, clinical_dim) if n_clinical else None
        start = features + (clinical_dim if n_clinical else 0)
        self.init_h = nn.Linear(start, hidden_size)
        self.init_c = nn.Linear(start, hidden_size)
        self.embedding = nn.Embedding(n_outputs, embedding_dim, padding_idx=PAD)
        self.feature_projection = nn.Linear(features, attention_dim)
        self.hidden_projection = nn.Linear(hidden_size, attention_dim)
        self.score = nn.Linear(attention_dim, 1)
        self.gate = nn.Linear(hidden_size, features)
        self.cell = nn.LSTMCell(embedding_dim + features, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size + features, n_outputs)
        self.attention_out = nn.Identity()
        self.shortcut = None
        self.n_outputs = n_outputs
        he_init_(self)

    def encode(self, images, clinical):
        """Feature positions ``(n, P, C)`` and the initial LSTM state."""
        feature_map = self.image_encoder.forward_features(images)
        self.feature_shape = tuple(feature_map.shape[2:])  # to map attention back to it
        positions = feature_map.flatten(2).transpose(1, 2)
        start = [positions.mean(dim=1)]
        if self.clinical_encoder is not None:
            start.append(self.clinical_encoder(clinical))
        start = torch.cat(start, dim=1)
        return positions, (torch.tanh(self.init_h(start)), torch.tanh(self.init_c(start)))

    def step(self, words, positions, projected, state):
        """One decoding step: logits of the next word, attention ``(n, P)``, new state."""
        h, c = state
        scores = self.score(torch.tanh(projected + self.hidden_projection(h).unsqueeze(1)))
        alpha = self.attention_out(torch.softmax(scores.squeeze(-1), dim=1))
        context = torch.sigmoid(self.gate(h)) * torch.bmm(alpha.unsqueeze(1), positions).squeeze(1)
        h, c = self.cell(torch.cat([self.embedding(words), context], dim=1), (h, c))
        logits = self.out(self.dropout(torch.cat([h, context], dim=1)))
        return logits, alpha, (h, c)

    def forward(self, images, clinical=None, tokens=None):
        """Teacher forcing: next-word logits ``(n, L - 1, V)`` for ``tokens`` ``(n, L)``
        (``(n, 0, V)`` without tokens; :meth:`generate` writes reports)."""
        positions, state = self.encode(images, clinical)
        if tokens is None:  # no words to score; the encoder ran (for a localisation head)
            return positions.new_zeros((positions.shape[0], 0, self.n_outputs))
        projected = self.feature_projection(positions)
        # Steps up to the longest report in the batch (its <eos> is the last target).
        length = int((tokens != PAD).sum(dim=1).max())
        logits = []
        for t in range(length - 1):
            step_logits, _, state = self.step(tokens[:, t], positions, projected, state)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def generate(self, images, clinical=None, max_length=40, beam_size=1):
        """Decode reports: token ids ``(n, T)`` (after ``<bos>``, up to and without ``<eos>``,
        padded with 0) and attention ``(n, T, P)`` per generated word. ``beam_size=1`` is
        greedy; otherwise beam search keeps the ``beam_size`` best partial reports by summed
        log-probability and returns the best finished one by mean log-probability per token
        (words and the end; length-normalised, so short reports are not favoured). The
        unknown word is never written; after ``max_length`` words the report ends."""
        positions, state = self.encode(images, clinical)
        n, p, _ = positions.shape
        k = int(beam_size)
        # Every sample's beams side by side: (n * k, ...).
        positions = positions.repeat_interleave(k, dim=0)
        projected = self.feature_projection(positions)
        state = tuple(s.repeat_interleave(k, dim=0) for s in state)
        words = torch.full((n * k,), BOS, dtype=torch.long, device=positions.device)
        scores = torch.zeros(n, k, device=positions.device)
        scores[:, 1:] = float("-inf")  # all beams start equal: keep one alive at first
        history = torch.zeros(n * k, 0, dtype=torch.long, device=positions.device)
        attention = positions.new_zeros((n * k, 0, p))
        finished = torch.zeros(n * k, dtype=torch.bool, device=positions.device)
        lengths = torch.zeros(n * k, device=positions.device)
        for step in range(max_length + 1):
            logits, alpha, state = self.step(words, positions, projected, state)
            log_p = torch.log_softmax(logits.float(), dim=1)
            # Never write padding, a second beginning or "unknown"; after max_length words,
            # only the end.
            log_p[:, [PAD, UNK, BOS]] = float("-inf")
            if step == max_length:
                log_p[:, EOS + 1 :] = float("-inf")
            # A finished beam only extends with padding, at no cost.
            log_p[finished] = float("-inf")
            log_p[finished, PAD] = 0.0
            total = (scores.reshape(-1, 1) + log_p).reshape(n, -1)  # (n, k * V)
            best, flat = total.topk(k, dim=1)
            beam = flat // self.n_outputs + torch.arange(n, device=flat.device).unsqueeze(1) * k
            beam, words = beam.reshape(-1), (flat % self.n_outputs).reshape(-1)
            scores = best
            state = tuple(s[beam] for s in state)
            was_finished = finished[beam]
            history = torch.cat([history[beam], words.unsqueeze(1)], dim=1)
            attention = torch.cat([attention[beam], alpha[beam].unsqueeze(1)], dim=1)
            lengths = lengths[beam] + (~was_finished).float()
            finished = was_finished | (words == EOS)
            if bool(finished.all()):
                break
        normalised = scores.reshape(-1) / lengths.clamp(min=1)
        normalised = (
            normalised.masked_fill(~finished, float("-inf")) if bool(finished.any()) else normalised
        )
        choice = (
            normalised.reshape(n, k).argmax(dim=1) + torch.arange(n, device=positions.device) * k
        )
        tokens, attention = history[choice], attention[choice]
        keep = torch.cumsum((tokens == EOS) | (tokens == PAD), dim=1) == 0
        width = int(keep.sum(dim=1).max()) if keep.numel() else 0
        tokens = (tokens * keep)[:, :width]
        attention = (attention * keep.unsqueeze(-1))[:, :width]
        return tokens, attention
