"""Report text encoder: embedding, bidirectional LSTM, word-level attention pooling."""

import torch
from torch import nn

from ._checks import check_positive_int


class AttentionTextEncoder(nn.Module):
    """Encode token-id sequences into one vector with a BiLSTM and attention over words.

    ``a_t = softmax_t(v^T tanh(W h_t))`` over the non-padding positions, and the output is
    ``sum_t a_t h_t`` (``2 * hidden_size`` values). The weights pass through
    ``self.weights_out`` (an identity module) so a forward hook reads which words mattered,
    shape ``(n, length)``, zero at padding.

    Parameters
    ----------
    vocabulary_size : int
        Number of token ids, including 0 (padding) and 1 (unknown word).
    embedding_dim : int, default=64
    hidden_size : int, default=64
        LSTM units per direction.
    """

    def __init__(self, vocabulary_size, embedding_dim=64, hidden_size=64):
        super().__init__()
        check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("hidden_size", hidden_size)
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.attention = nn.Sequential(
            nn.Linear(2 * hidden_size, hidden_size),
            nn.Tanh(),
            nn.Linear(hidden_size, 1, bias=False),
        )
        self.weights_out = nn.Identity()
        self.out_features = 2 * hidden_size
        #: Run the BiLSTM as explicit steps over the padded batch instead of packed sequences,
        #: which graph exporters (torch.export, ONNX) cannot trace; the same numbers.
        self.unrolled = False

    def forward(self, tokens):
        """Return the attention-pooled report vector, shape ``(n, 2 * hidden_size)``."""
        mask = tokens != 0
        lengths = mask.sum(dim=1).clamp(min=1)
        embedded = self.embedding(tokens)
        if self.unrolled:
            states = self._unrolled_lstm(embedded, lengths)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            output, _ = self.lstm(packed)
            states, _ = nn.utils.rnn.pad_packed_sequence(
                output, batch_first=True, total_length=tokens.shape[1]
            )
        scores = self.attention(states).squeeze(-1)
        # An empty report attends to its first (padding) position rather than to nothing.
        mask = mask.clone()
        mask[:, 0] |= ~mask.any(dim=1)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = self.weights_out(torch.softmax(scores, dim=1))
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)

    def _direction(self, inputs, suffix):
        """One LSTM direction step by step (PyTorch's gate order i, f, g, o)."""
        w_ih, w_hh = (
            getattr(self.lstm, "weight_ih_l0" + suffix),
            getattr(self.lstm, "weight_hh_l0" + suffix),
        )
        bias = getattr(self.lstm, "bias_ih_l0" + suffix) + getattr(self.lstm, "bias_hh_l0" + suffix)
        projected = inputs @ w_ih.T + bias
        h = inputs.new_zeros((inputs.shape[0], self.lstm.hidden_size))
        c = torch.zeros_like(h)
        outputs = []
        for t in range(inputs.shape[1]):
            i, f, g, o = (projected[:, t] + h @ w_hh.T).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)

    def _unrolled_lstm(self, embedded, lengths):
        """The packed BiLSTM's outputs at every real position (padding positions hold
        values the attention masks out): the backward direction reads each report reversed
        within its own length."""
        steps = torch.arange(embedded.shape[1], device=embedded.device).unsqueeze(0)
        last = (lengths - 1).unsqueeze(1)
        order = torch.where(steps <= last, last - steps, steps)  # its own inverse
        gather = order.unsqueeze(-1).expand(-1, -1, embedded.shape[2])
        forward = self._direction(embedded, "")
        backward = self._direction(embedded.gather(1, gather), "_reverse")
        backward = backward.gather(1, order.unsqueeze(-1).expand(-1, -1, backward.shape[2]))
        valid = (steps <= last).unsqueeze(-1)
        return torch.cat([forward, backward], dim=2) * valid
