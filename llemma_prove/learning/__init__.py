"""Learning from the project's own proofs: training data from runs, leakage rules, fine-tuning, and the
expert-iteration loop.

`dataset` and `leakage` are light (no torch); `train` imports torch, transformers, datasets and peft
only when called; `iterate` drives the minif2f command, `dataset` and `train` round after round.
"""
