"""The BSQ tokenizer: normalised bars -> (s1, s2) token ids -> bars.

Each bar becomes a 20-bit binary spherical code; the low 10 bits are the coarse id s1, the high 10 the
fine id s2 (bit k of the code is dimension k, least significant first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from kronos.lazy import F, nn, torch

from .config import TokenizerConfig
from .layers import KVCache, TransformerBlock

# Continuation tokens decoded per pass after a shared prefix. A whole pass of 30 paths x 120 steps holds
# [3600, 1024] temporaries (15 MB); glibc hands blocks that size back to the kernel when they are freed
# and every forecast faults them in again (18,000-43,000 page faults). Passes of 2048 tokens keep every
# temporary within ~8 MB, which stays in the allocator's heap and the caches: the decode of a mini
# forecast ran 18-21% faster (docs/speed.md). Rows are independent, so the bars are the same.
DECODE_CHUNK_TOKENS = 2048


class BinarySphericalQuantizer(nn.Module):
    """Sign quantiser on the unit sphere, with the entropy terms used to train it."""

    def __init__(self, dim: int, group_size: int):
        super().__init__()
        self.dim = dim
        # Stored in the official checkpoints (big-endian bit weights); ids never use them.
        self.register_buffer("basis", 2 ** torch.arange(dim - 1, -1, -1))
        self.register_buffer("group_basis", 2 ** torch.arange(group_size - 1, -1, -1))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Straight-through sign of the L2-normalised input, scaled to the unit sphere."""
        z = F.normalize(z, dim=-1)
        signs = torch.where(z > 0, torch.ones_like(z), -torch.ones_like(z))
        return (z + (signs - z).detach()) / math.sqrt(self.dim)

    def entropy_terms(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-sample entropy, codebook entropy) with the analytical per-bit probabilities."""
        z = F.normalize(z, dim=-1)
        p = torch.sigmoid(-4 * z / math.sqrt(self.dim))
        probs = torch.stack([p, 1 - p], dim=-1)
        per_sample = _entropy(probs).sum(-1).mean()
        codebook = _entropy(probs.reshape(-1, self.dim, 2).mean(0)).sum()
        return per_sample, codebook


def _entropy(probs: torch.Tensor) -> torch.Tensor:
    return -(probs * torch.log(probs + 1e-8)).sum(-1)


@dataclass
class TokenizerOutput:
    """Training forward: reconstructions from the coarse bits and from all bits, plus the BSQ loss."""

    recon_coarse: torch.Tensor
    recon: torch.Tensor
    bsq_loss: torch.Tensor


class KronosTokenizer(nn.Module):
    def __init__(self, config: TokenizerConfig):
        super().__init__()
        self.config = config
        c = config
        block = lambda: TransformerBlock(c.d_model, c.n_heads, c.ff_dim, c.ffn_dropout_p,  # noqa: E731
                                         c.attn_dropout_p, c.resid_dropout_p)
        self.codebook_dim = c.s1_bits + c.s2_bits
        self.embed = nn.Linear(c.d_in, c.d_model)
        # The official network has one block fewer than n_enc_layers / n_dec_layers; checkpoints rely on it.
        self.encoder = nn.ModuleList([block() for _ in range(c.n_enc_layers - 1)])
        self.quant_embed = nn.Linear(c.d_model, self.codebook_dim)
        self.post_quant_embed_pre = nn.Linear(c.s1_bits, c.d_model)
        self.post_quant_embed = nn.Linear(self.codebook_dim, c.d_model)
        self.decoder = nn.ModuleList([block() for _ in range(c.n_dec_layers - 1)])
        self.head = nn.Linear(c.d_model, c.d_in)
        self.tokenizer = nn.ModuleDict({"bsq": BinarySphericalQuantizer(self.codebook_dim, c.group_size)})

    @property
    def quantizer(self) -> BinarySphericalQuantizer:
        return self.tokenizer["bsq"]

    def _encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embed(x)
        for layer in self.encoder:
            z = layer(z)
        return self.quant_embed(z)

    def _decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        for layer in self.decoder:
            z = layer(z)
        return self.head(z)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised bars [B, T, d_in] -> (s1, s2) ids, each [B, T] int64."""
        bits = (F.normalize(self._encode_latent(x), dim=-1) > 0).long()
        half = self.config.s1_bits
        weights = 2 ** torch.arange(half, device=x.device)
        return (bits[..., :half] * weights).sum(-1), (bits[..., half:] * weights).sum(-1)

    def ids_to_code(self, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        half = self.config.s1_bits
        weights = 2 ** torch.arange(half, device=s1.device)
        bits = torch.cat([(s1.unsqueeze(-1) & weights) != 0, (s2.unsqueeze(-1) & weights) != 0], dim=-1)
        return (bits.float() * 2 - 1) * (1.0 / self.codebook_dim ** 0.5)

    @torch.no_grad()
    def decode(self, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        """(s1, s2) ids [B, T] -> normalised bars [B, T, d_in] (one causal pass, positions from 0)."""
        return self._decode_latent(self.post_quant_embed(self.ids_to_code(s1, s2)))

    @torch.no_grad()
    def decode_continuations(self, prefix_s1, prefix_s2, s1, s2, return_prefix_last: bool = False):
        """Decode [R, n] continuations of P prefixes [P, m], each shared by a block of R / P consecutive
        rows; returns the bars of the continuations only, [R, n, d_in]. Equals ``decode`` of each full
        sequence, but each prefix is computed once, then the continuations pass through the decoder in
        chunks of about DECODE_CHUNK_TOKENS tokens. ``return_prefix_last``: also return each prefix's last
        bar, [P, d_in] (``decode`` of the prefix alone, its last bar: the prefix pass computes it anyway)."""
        if prefix_s1.shape[1] == 0:
            if return_prefix_last:
                raise ValueError("an empty prefix has no last bar")
            return self.decode(s1, s2)
        zp = self.post_quant_embed(self.ids_to_code(prefix_s1, prefix_s2))
        heads, head_dim = self.config.n_heads, self.config.d_model // self.config.n_heads
        caches = []
        for layer in self.decoder:
            caches.append(KVCache.empty(zp.shape[0], heads, zp.shape[1], head_dim, zp))
            zp = layer.prefill(zp, caches[-1])
        rows, n = s1.shape
        out = torch.empty(rows, n, self.config.d_in, device=s1.device, dtype=zp.dtype)
        for prefixes, chunk in _chunks(prefix_s1.shape[0], rows, max(1, DECODE_CHUNK_TOKENS // max(1, n))):
            z = self.post_quant_embed(self.ids_to_code(s1[chunk], s2[chunk]))
            for layer, cache in zip(self.decoder, caches):
                z = layer.extend(z, KVCache(cache.k[prefixes], cache.v[prefixes]))
            out[chunk] = self.head(z)
        # The head over every prefix position, as ``decode`` runs it (one row alone may round differently).
        return (out, self.head(zp)[:, -1]) if return_prefix_last else out

    def forward(self, x: torch.Tensor) -> TokenizerOutput:
        """Training pass: reconstruct from the coarse bits and from all bits; BSQ commitment + entropy loss."""
        c = self.config
        latent = self._encode_latent(x)
        quantized = self.quantizer.quantize(latent)
        recon_coarse = self._decode_latent(self.post_quant_embed_pre(quantized[..., : c.s1_bits]))
        recon = self._decode_latent(self.post_quant_embed(quantized))
        unit = F.normalize(latent, dim=-1)
        commit = c.beta * torch.mean(((quantized.detach() - unit) ** 2).sum(-1))
        per_sample, codebook = self.quantizer.entropy_terms(latent)
        bsq_loss = commit + c.zeta * (c.gamma0 * per_sample - c.gamma * codebook)
        return TokenizerOutput(recon_coarse, recon, bsq_loss)


def _chunks(prefixes: int, rows: int, chunk_rows: int) -> list[tuple[slice, slice]]:
    """(prefixes, rows) slices that split ``rows`` rows, in blocks of rows / prefixes per prefix, into passes
    of about ``chunk_rows`` rows: whole blocks together where they are small, a block in parts where it is
    large. Each pass's rows are consecutive blocks of its own prefixes, as ``extend`` reads them."""
    block = rows // prefixes
    if block <= chunk_rows:
        per = chunk_rows // block
        return [(slice(p, min(p + per, prefixes)), slice(p * block, min(p + per, prefixes) * block))
                for p in range(0, prefixes, per)]
    return [(slice(p, p + 1), slice(p * block + a, p * block + min(a + chunk_rows, block)))
            for p in range(prefixes) for a in range(0, block, chunk_rows)]
