"""Attention after a shared prefix on the CPU, as two attentions merged exactly instead of one behind a mask.

The CPU's flash attention kernel also returns each query's log-sum-exp of scores, which lets attention
over [shared prefix, own tokens] run as two attentions merged by those sums instead of one over every row's
copy of the prefix behind a mask (docs/speed.md: the tokenizer's decode of 30 paths). The masked attention
(``SelfAttention.extend``) stays the model's definition; this computes it to float rounding.
"""
from __future__ import annotations

from kronos.lazy import torch

_CPU_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def prefix_blocks_available(q: torch.Tensor) -> bool:
    """Whether ``attend_after_prefix`` can run for queries q: the CPU, no autograd, float32/bfloat16."""
    return (_CPU_FLASH is not None and q.device.type == "cpu" and not torch.is_grad_enabled()
            and q.dtype in (torch.float32, torch.bfloat16))


def attend_after_prefix(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, prefix_k: torch.Tensor,
                        prefix_v: torch.Tensor) -> torch.Tensor:
    """Softmax attention of q [batch, heads, n, head_dim] over its prefix's keys ``prefix_k``, ``prefix_v``
    [batch, heads, m, head_dim] (``kronos.layers.rows_of``: a prefix shared by many rows is read, not
    copied) followed by its own keys k, v [batch, heads, n, head_dim], causally among its own: what SDPA
    over the concatenated keys with the prefix-continuation mask computes. The two blocks are attended
    separately and merged by their log-sum-exps (softmax over the union = each block's softmax weighted by
    its share of the total mass); equal to float rounding. Every row is computed alike, as its own batch
    entry, so its result does not depend on the other rows (greedy paths stay identical)."""
    out_prefix, lse_prefix = _CPU_FLASH(q, prefix_k, prefix_v)
    out_own, lse_own = _CPU_FLASH(q, k, v, is_causal=True)
    # Each block's share of the mass, softmax of the two log-sum-exps: a softmax over a last axis of 2
    # computes every (row, head, query) alike, where an elementwise exp would take another code path
    # for the elements at the end of the tensor (and so give another last bit to some rows).
    shares = torch.softmax(torch.stack([lse_prefix, lse_own], dim=-1), dim=-1)
    return (out_prefix * shares[..., :1] + out_own * shares[..., 1:]).to(q.dtype)
