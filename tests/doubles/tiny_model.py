"""A tiny randomly initialised Llama model and a tokenizer built in memory: a test double for LLEMMA.

Nothing is downloaded. The tokenizer is a byte-level BPE trained in a few milliseconds on Lean-flavoured
text, so prompts in the paper's format (newlines, `---`, unicode like `⊢`) tokenize the way they would
with a real tokenizer; the model is a 2-layer Llama with hidden size 32. Both are saved to a directory
and loaded back through the same `from_pretrained` path the product uses for real weights.

Used by the proposer tests and by `benchmarks/` (generation and throughput), never by the product.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

# Text the tokenizer learns its merges from: the shape of next-tactic prompts and miniF2F-like states.
CORPUS = [
    "Given the Lean 4 tactic state, suggest a next tactic.\nHere are some examples:\n\n",
    "Tactic state:\n---\nx : ℝ\nh₀ : 3 * x + 2 = 11\n⊢ x = 3\n---\nNext tactic:\n---\nlinarith\n---\n\n",
    "Tactic state:\n---\n⊢ (29 ^ 13 - 5 ^ 13) % 7 = 3\n---\nNext tactic:\n---\nnorm_num\n---\n\n",
    "Tactic state:\n---\na b : ℝ\nh₀ : 0 < a ∧ 0 < b\n⊢ a ^ 2 + b ^ 2 ≥ 2 * a * b\n---\nNext tactic:\n---\n"
    "nlinarith [sq_nonneg (a - b)]\n---\n\n",
    "n : ℕ\nh₀ : n % 5 = 3\n⊢ 2 * n % 5 = 1\nomega\nsimp\nring_nf\nfield_simp\nintro h\ninduction n with\n",
    "theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by\n  norm_num\n",
    "rw [h₀] at h₁\nexact h₁\napply Nat.le_of_lt_succ\nconstructor <;> linarith\ndecide\npositivity\n",
]

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]


@dataclass(frozen=True)
class TinyModelSpec:
    """Size of the double; the defaults are what the tests use."""

    vocab_size: int = 320
    hidden_size: int = 32
    intermediate_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    max_positions: int = 4096
    seed: int = 0
    initializer_range: float = 0.2  # larger than usual so the random model is not near-uniform


def build_tokenizer(vocab_size: int = 320):
    """A Llama-like tokenizer (BOS prepended, `</s>` as EOS, no pad token) trained in memory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    bos_id = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos_id)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", model_max_length=4096
    )


def build_tiny_llama(directory: Path | str, spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Write a tiny random Llama and its tokenizer to `directory` (created); returns the directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(spec.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_positions,
        initializer_range=spec.initializer_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "tiny_model_spec.json").write_text(json.dumps(asdict(spec)))
    return directory
