"""The Kronos decoder: hierarchical token embedding + temporal embedding, a causal RoPE trunk, and a
dependency-aware dual head (s1 from the trunk, then s2 conditioned on the chosen s1)."""
from __future__ import annotations

import math

from kronos.lazy import F, nn, torch

from .config import DEPENDENCY_HEADS, KronosConfig
from .layers import (
    ComputesProducts,
    CosSin,
    KVCache,
    PathKVCache,
    RMSNorm,
    Rotary,
    TransformerBlock,
    attend_paths,
    merge_heads,
    split_heads,
)


class HierarchicalEmbedding(ComputesProducts, nn.Module):
    def __init__(self, config: KronosConfig):
        super().__init__()
        d = config.d_model
        self.scale = math.sqrt(d)
        self.emb_s1 = nn.Embedding(2 ** config.s1_bits, d)
        self.emb_s2 = nn.Embedding(2 ** config.s2_bits, d)
        self.fusion_proj = nn.Linear(2 * d, d)

    def forward(self, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        return self.products.linear(self, "fusion_proj", torch.cat([self.emb_s1(s1) * self.scale, self.emb_s2(s2) * self.scale], dim=-1))


class SinusoidTable(nn.Module):
    """Fixed sin/cos table (only used when ``learn_te`` is false; no published model does that)."""

    def __init__(self, rows: int, d: int):
        super().__init__()
        pos = torch.arange(rows).float().unsqueeze(1)
        freq = torch.exp(torch.arange(0, d, 2).float() * -(math.log(10000.0) / d))
        table = torch.zeros(rows, d)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)
        self.emb = nn.Embedding(rows, d)
        self.emb.weight = nn.Parameter(table, requires_grad=False)

    def forward(self, idx):
        return self.emb(idx)


class TemporalEmbedding(nn.Module):
    """Sum of minute, hour, weekday, day-of-month and month embeddings (stamp columns in that order)."""

    SIZES = {"minute": 60, "hour": 24, "weekday": 7, "day": 32, "month": 13}

    def __init__(self, config: KronosConfig):
        super().__init__()
        table = (lambda n: nn.Embedding(n, config.d_model)) if config.learn_te else (
            lambda n: SinusoidTable(n, config.d_model))
        for name, size in self.SIZES.items():
            setattr(self, f"{name}_embed", table(size))

    def forward(self, stamp: torch.Tensor) -> torch.Tensor:
        s = stamp.long()
        # The official summation order (hour first, minute last) matters at float32 precision.
        return (self.hour_embed(s[..., 1]) + self.weekday_embed(s[..., 2]) + self.day_embed(s[..., 3])
                + self.month_embed(s[..., 4]) + self.minute_embed(s[..., 0]))


class CrossAttention(ComputesProducts, nn.Module):
    """Attention of the s1-embedding query over the trunk states (4 heads, no rotation in effect)."""

    def __init__(self, d_model: int, attn_dropout_p: float = 0.0, resid_dropout_p: float = 0.0):
        super().__init__()
        self.n_heads = DEPENDENCY_HEADS
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        # Stored in checkpoints; unused because the official inference path rotates by position 0 only.
        self.rotary = Rotary(d_model // DEPENDENCY_HEADS)
        self.attn_dropout_p = attn_dropout_p
        self.resid_dropout = nn.Dropout(resid_dropout_p)

    def keys_values(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fused = self.products.fused_linear(self, ("k_proj", "v_proj"))
        if fused is None:
            return split_heads(self.k_proj(h), self.n_heads), split_heads(self.v_proj(h), self.n_heads)
        return split_pair(fused(h), self.n_heads)

    def query(self, sibling: torch.Tensor) -> torch.Tensor:
        # The official layer rotates by the query length's positions (0 only): the identity.
        return split_heads(self.q_proj(sibling), self.n_heads)

    def out(self, heads: torch.Tensor) -> torch.Tensor:
        return self.resid_dropout(self.products.linear(self, "out_proj", merge_heads(heads)))

    def forward(self, sibling, k, v, is_causal=False):
        dropout = self.attn_dropout_p if self.training else 0.0
        return self.out(F.scaled_dot_product_attention(self.query(sibling), k, v, dropout_p=dropout,
                                                       is_causal=is_causal))


def split_pair(kv: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[batch, n, 2 * d_model] (keys, then values) -> k, v, each [batch, heads, n, head_dim]."""
    b, n, d2 = kv.shape
    kv = kv.view(b, n, 2, heads, d2 // (2 * heads))
    return kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)


class DependencyAwareLayer(nn.Module):
    def __init__(self, config: KronosConfig):
        super().__init__()
        self.cross_attn = CrossAttention(config.d_model, config.attn_dropout_p, config.resid_dropout_p)
        self.norm = RMSNorm(config.d_model)


class DualHead(nn.Module):
    def __init__(self, config: KronosConfig):
        super().__init__()
        self.proj_s1 = nn.Linear(config.d_model, 2 ** config.s1_bits)
        self.proj_s2 = nn.Linear(config.d_model, 2 ** config.s2_bits)


class Kronos(ComputesProducts, nn.Module):
    def __init__(self, config: KronosConfig):
        super().__init__()
        self.config = config
        c = config
        self.embedding = HierarchicalEmbedding(c)
        self.time_emb = TemporalEmbedding(c)
        self.token_drop = nn.Dropout(c.token_dropout_p)
        self.transformer = nn.ModuleList([
            TransformerBlock(c.d_model, c.n_heads, c.ff_dim, c.ffn_dropout_p, c.attn_dropout_p, c.resid_dropout_p)
            for _ in range(c.n_layers)
        ])
        self.norm = RMSNorm(c.d_model)
        self.dep_layer = DependencyAwareLayer(c)
        self.head = DualHead(c)
        self.apply(self._init_weights)
        # Optional exogenous-event encoder (not part of the official architecture or checkpoints).
        self.event_emb: nn.Linear | None = None

    def attach_event_embedding(self, channels: int) -> nn.Linear:
        """Add Linear(channels -> d_model) on top of the token and time embeddings. Zero-initialised,
        so the model's outputs are unchanged until it is trained."""
        self.event_emb = nn.Linear(channels, self.config.d_model).to(self.embedding.emb_s1.weight)
        nn.init.zeros_(self.event_emb.weight)
        nn.init.zeros_(self.event_emb.bias)
        return self.event_emb

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding) and module.weight.requires_grad:
            nn.init.normal_(module.weight, mean=0.0, std=module.weight.shape[1] ** -0.5)

    # --- trunk -------------------------------------------------------------------------------------
    def embed(self, s1, s2, stamp=None, events=None):
        """Token + time embeddings, plus the event embedding when events are given. Without events
        the computation is exactly the official one."""
        x = self.embedding(s1, s2)
        if stamp is not None:
            x = x + self.time_emb(stamp)
        if events is not None:
            if self.event_emb is None:
                raise ValueError("this model has no event encoder: load an event adapter to use events")
            x = x + self.event_emb(events)
        return self.token_drop(x)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Causal blocks + final norm over whole sequences at positions 0..n-1: [batch, n, d_model]."""
        for layer in self.transformer:
            x = layer(x)
        return self.norm(x)

    def trunk_prefill(self, x: torch.Tensor, caches: list[KVCache]) -> torch.Tensor:
        """``trunk``, storing each layer's keys/values in its KVCache."""
        for layer, cache in zip(self.transformer, caches):
            x = layer.prefill(x, cache)
        return self.norm(x)

    def trunk_decode(self, x: torch.Tensor, caches: list[PathKVCache], index: int | torch.Tensor,
                     ropes: list[CosSin]) -> torch.Tensor:
        """One new token per path, x [rows, 1, d_model], with each layer's RoPE cos/sin ``ropes`` (see
        ``rotary_tables``); it becomes generated token ``index`` in each layer's PathKVCache."""
        for layer, cache, rope in zip(self.transformer, caches, ropes):
            x = layer.decode(x, cache, index, rope)
        return self.norm(x)

    def trunk_extend(self, x: torch.Tensor, prefixes: list[KVCache]) -> torch.Tensor:
        """x continues, in every row, the m tokens whose keys/values each layer's KVCache holds, at
        positions m..m+n-1."""
        for layer, prefix in zip(self.transformer, prefixes):
            x = layer.extend(x, prefix)
        return self.norm(x)

    def rotary_tables(self, length: int) -> list[CosSin]:
        """Each layer's RoPE cos/sin for positions 0..length-1, [length, 1, 1, head_dim]: computed once
        per generation, indexed by position at every step. Checkpoints store one inv_freq per layer; when
        they all agree (as in the published models) the layers share one table."""
        rotaries = [layer.self_attn.rotary for layer in self.transformer]
        positions = torch.arange(length, device=rotaries[0].inv_freq.device)
        dtype = self.embedding.emb_s1.weight.dtype
        if all(torch.equal(r.inv_freq, rotaries[0].inv_freq) for r in rotaries[1:]):
            return [rotaries[0].cos_sin(positions, dtype)] * len(rotaries)
        return [r.cos_sin(positions, dtype) for r in rotaries]

    # --- heads -------------------------------------------------------------------------------------
    def s1_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.products.linear(self.head, "proj_s1", h)

    def dependency_keys_values(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dep_layer.cross_attn.keys_values(h)

    def s1_logits_and_dependency(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """s1 logits and dependency keys/values of trunk states h [rows, n, d_model]: the three read the
        same input, so one matrix product computes them when the weights can be fused."""
        fused = self.products.fused_linear(self, ("head.proj_s1", "dep_layer.cross_attn.k_proj", "dep_layer.cross_attn.v_proj"))
        if fused is None:
            return (self.s1_logits(h), *self.dependency_keys_values(h))
        y = fused(h)
        vocab = self.head.proj_s1.out_features
        return (y[..., :vocab], *split_pair(y[..., vocab:], DEPENDENCY_HEADS))

    def _s2_query(self, s1: torch.Tensor) -> torch.Tensor:
        """The dependency query of the chosen s1 ids [rows, 1]: [rows, heads, 1, head_dim]. Without autograd
        it is a row of q_proj applied to the whole s1 embedding table once (a lookup, not a product per step)."""
        attn = self.dep_layer.cross_attn
        if torch.is_grad_enabled() or type(attn.q_proj) is not nn.Linear:
            return attn.query(self.embedding.emb_s1(s1))
        cached = self.__dict__.get("_s2_queries")
        if cached is not None and torch.compiler.is_compiling():  # as in accel's fused_linear: no data-pointer check
            return split_heads(cached[1][s1], attn.n_heads)
        weights = (self.embedding.emb_s1.weight, attn.q_proj.weight, attn.q_proj.bias)
        key = tuple((p.data_ptr(), p._version) for p in weights)
        if cached is None or cached[0] != key:
            cached = self.__dict__["_s2_queries"] = (key, attn.q_proj(self.embedding.emb_s1.weight))
        return split_heads(cached[1][s1], attn.n_heads)

    def _s2_from_attention(self, h_last, o) -> torch.Tensor:
        return self.products.linear(self.head, "proj_s2", self.dep_layer.norm(h_last + self.dep_layer.cross_attn.out(o)))

    def s2_logits(self, h_last, s1, k, v) -> torch.Tensor:
        """Eval-mode s2 logits for the last position.

        h_last [rows, 1, d] is the trunk state of the last position, s1 [rows, 1] the chosen coarse ids, and
        k, v [rows, 4, n, d/4] the dependency keys/values of every position in the window: the s1 query
        attends to all of them, unmasked.
        """
        return self._s2_from_attention(h_last, F.scaled_dot_product_attention(self._s2_query(s1), k, v))

    def s2_logits_paths(self, h_last, s1, cache: PathKVCache, length: int | torch.Tensor) -> torch.Tensor:
        """As ``s2_logits``, with the dependency keys/values in a PathKVCache: each row attends to its
        series' context and its own first ``length`` generated tokens (a tensor: see ``attend_paths``)."""
        return self._s2_from_attention(h_last, attend_paths(self._s2_query(s1), cache, length))

    # --- full forward (training, and the reference for cached decoding) ----------------------------
    def forward(self, s1, s2, stamp=None, s1_targets=None, events=None):
        """Logits for every position: s1 [B, T, V1] and s2 [B, T, V2] conditioned on ``s1_targets``.

        Position i's s2 query attends to trunk states 0..i, which is exactly what inference does at the
        last position. (Upstream's training mode also rotates that query by RoPE; its inference does not,
        so we train the way the model is used.)
        """
        h = self.trunk(self.embed(s1, s2, stamp, events))
        logits1 = self.s1_logits(h)
        if s1_targets is None:
            s1_targets = logits1.argmax(-1)
        k, v = self.dependency_keys_values(h)
        o = self.dep_layer.cross_attn(self.embedding.emb_s1(s1_targets), k, v, is_causal=True)
        logits2 = self.head.proj_s2(self.dep_layer.norm(h + o))
        return logits1, logits2
