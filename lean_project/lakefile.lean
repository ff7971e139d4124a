import Lake
open Lake DSL

/-!
The Lake project llemma-prove runs Lean in (`llemma-prove setup lean` builds it).

Pinned to the Lean version of the default miniF2F statement set (yangky11/miniF2F-lean4, Lean v4.24.0):
Mathlib at tag v4.24.0 (commit f897ebcf72cd16f89ab4577d0c826cd14afaafc7; it and its dependencies are
locked in lake-manifest.json) and the Lean REPL at its matching tag v4.24.0 (commit
8fff8552292860d349b459d6a811e6915671dc0d, package `REPL`, also locked in lake-manifest.json). Setup
never runs `lake update`: it would move these pins and run Mathlib's post-update hook, which downloads
the whole cache. The REPL binary is built at `.lake/packages/REPL/.lake/build/bin/repl` and started
directly with this project's `lake env` environment.

The final check replays every declaration of a checked proof in the kernel with lean4checker at the
toolchain's tag v4.24.0 (commit da26eb05e9959402afcb9bd6dfe5dc4f700f70d6, locked in lake-manifest.json);
setup builds it at `.lake/packages/lean4checker/.lake/build/bin/lean4checker`.
-/

package llemmaProveLean where

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.24.0"

require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.24.0"

require lean4checker from git
  "https://github.com/leanprover/lean4checker" @ "v4.24.0"
