"""Small fixes on TRL 1.16's experimental ORPO / CPO trainers (measured problems, see issue 6).

1. *Single EOS.* With conversational data the chat template already ends the assistant turn with
   its end token (often followed by a newline); TRL then appends ``eos_token_id`` again because the
   last token is not EOS. We cut each response right after its first end-of-turn token, so it ends
   with exactly one, as at inference where generation stops there.
2. *Response-only NLL (ORPO).* TRL computes ORPO's NLL term over prompt and response; the paper's
   trainer takes it over the response only. With our long example-list prompts the prompt NLL
   swamped the objective (held-out rule accuracy of a tiny student fell from 41% to 15%).
   On several processes that NLL is a mean over the global batch's response tokens, so a
   two-process run follows the loss curve of one process at the same global batch.
"""

from __future__ import annotations

import warnings

import torch.nn.functional as F
from trl.experimental.cpo import CPOTrainer
from trl.experimental.orpo import ORPOTrainer

from redistill.errors import RedistillError
from redistill.train.model import stop_token_ids


def cut_after_first_stop(batch: dict, stop_ids: set[int]) -> dict:
    """Truncate ``chosen_*`` / ``rejected_*`` right after the first stop token of the response part."""
    for side in ("chosen", "rejected"):
        ids, mask, labels = (batch[f"{side}_{k}"] for k in ("input_ids", "attention_mask", "labels"))
        start = next((i for i, lab in enumerate(labels) if lab != -100), len(labels))
        end = next((i + 1 for i in range(start, len(ids)) if ids[i] in stop_ids), len(ids))
        batch[f"{side}_input_ids"], batch[f"{side}_attention_mask"], batch[f"{side}_labels"] = (
            ids[:end],
            mask[:end],
            labels[:end],
        )
    return batch


class _SingleEosMixin:
    """Tokenise rows as TRL does, then keep exactly one end-of-turn token per response."""

    def _init_stop_ids(self, model, processing_class) -> None:
        self._stop_ids = stop_token_ids(model, processing_class)

    def tokenize_row(self, feature, model=None) -> dict:
        batch = super().tokenize_row(feature, model)
        return cut_after_first_stop(batch, self._stop_ids)

    def _drop_empty_responses(self) -> None:
        """Drop pairs whose prompt fills ``max_length`` (TRL truncates their responses to nothing, and an
        empty response makes the loss NaN); say how many, and fail when none is left."""
        for name in ("train_dataset", "eval_dataset"):
            ds = getattr(self, name, None)
            if ds is None:
                continue
            kept = ds.filter(lambda r: any(x != -100 for x in r["chosen_labels"])
                             and any(x != -100 for x in r["rejected_labels"]))
            if len(kept) < len(ds):
                warnings.warn(f"{name}: dropped {len(ds) - len(kept)} of {len(ds)} pairs whose prompt fills "
                              f"max_length={self.max_length}", stacklevel=2)
            if name == "train_dataset" and len(kept) == 0:
                raise RedistillError(f"every preference pair's prompt fills max_length={self.max_length}: "
                                     "raise max_length")
            setattr(self, name, kept)


class ReDisORPOTrainer(_SingleEosMixin, ORPOTrainer):
    """ORPO with response-only NLL and a single EOS per response."""

    def __init__(self, model=None, args=None, processing_class=None, **kwargs):
        self._init_stop_ids(model, processing_class)  # tokenize_row runs inside super().__init__
        super().__init__(model=model, args=args, processing_class=processing_class, **kwargs)
        self._drop_empty_responses()

    def concatenated_forward(self, model, batch):
        """TRL's forward, with the NLL term recomputed over response tokens only (prompt labels are -100)."""
        out = list(super().concatenated_forward(model, batch))
        chosen_logits = out[2]  # (batch, seq - 1, vocab): already shifted, tokens < n predict n
        labels = batch["chosen_labels"].to(chosen_logits.device)
        width = chosen_logits.shape[1] + 1
        if labels.shape[1] < width:  # chosen was padded to the rejected length inside the forward
            labels = F.pad(labels, (0, width - labels.shape[1]), value=-100)
        targets = labels[:, 1:width].reshape(-1)
        total = F.cross_entropy(
            chosen_logits.reshape(-1, chosen_logits.shape[-1]).float(), targets, ignore_index=-100, reduction="sum"
        )
        count = (targets != -100).sum()
        if self.accelerator.num_processes > 1:
            # a mean over the whole global batch's tokens, as one process takes it: DDP averages the
            # processes' gradients, so each divides its sum by the global count times the process count
            count = self.accelerator.reduce(count.detach(), reduction="sum") / self.accelerator.num_processes
        out[4] = total / count.clamp(min=1)  # a fully truncated response adds 0, not NaN
        return tuple(out)


class ReDisCPOTrainer(_SingleEosMixin, CPOTrainer):
    """CPO / SimPO with a single EOS per response (its NLL term is response-only already)."""

    def __init__(self, model=None, args=None, processing_class=None, **kwargs):
        self._init_stop_ids(model, processing_class)
        super().__init__(model=model, args=args, processing_class=processing_class, **kwargs)
        self._drop_empty_responses()

