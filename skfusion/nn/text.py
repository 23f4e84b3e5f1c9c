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
        self.attention = nn.Sequential(nn.Linear(2 * hidden_size, hidden_size), nn.Tanh(),
                                       nn.Linear(hidden_size, 1, bias=False))
        self.weights_out = nn.Identity()
        self.out_features = 2 * hidden_size

    def forward(self, tokens):
        """Return the attention-pooled report vector, shape ``(n, 2 * hidden_size)``."""
        mask = tokens != 0
        lengths = mask.sum(dim=1).clamp(min=1)
        embedded = self.embedding(tokens)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        output, _ = self.lstm(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True,
                                                     total_length=tokens.shape[1])
        scores = self.attention(states).squeeze(-1)
        # An empty report attends to its first (padding) position rather than to nothing.
        mask = mask.clone()
        mask[:, 0] |= ~mask.any(dim=1)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = self.weights_out(torch.softmax(scores, dim=1))
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)
