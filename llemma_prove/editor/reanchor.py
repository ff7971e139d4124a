"""Moving a found proof to where its target stands after the text changed (editor autosave, another
proof inserted above it, the user typing elsewhere).

A proof was checked for one declaration in one context. In a changed text it is placed only where
the same declaration (byte for byte) now stands, once; whether it may be written without a new check
depends on the text before it: if the prover reads that text as before (comments and layout aside),
the check still holds (`same_context`); otherwise the caller must run the final check again on the
new text (`session.recheck`) before writing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .targets import Target, TextEdit, context_tokens, locate


@dataclass(frozen=True)
class Relocated:
    """Where the target's declaration stands in the new text, relative to the old one."""

    shift: int  # add to an offset of the old text inside the declaration
    same_context: bool  # the prover reads everything before the declaration as before


def relocate(target: Target, old: str, new: str) -> Relocated | None:
    """The declaration holding `target`, found in `new`: its text must be unchanged and stand there
    exactly once (or, if it occurs several times, exactly once under the same name). None otherwise."""
    if old == new:
        return Relocated(0, True)
    decl = target.declaration
    if decl is None:
        return None
    chunk = old[decl.start: decl.end]
    hits = []
    at = new.find(chunk)
    while at >= 0:
        hits.append(at)
        at = new.find(chunk, at + 1)
    if not hits:
        return None
    if len(hits) > 1:
        try:
            located = locate(new, target.language)
        except Exception:  # unscannable new text: cannot tell the copies apart
            return None
        named = {d.start for d in located.declarations if d.display_name == decl.display_name}
        hits = [h for h in hits if h in named]
        if len(hits) != 1:
            return None
    at = hits[0]
    before = context_tokens(old[: decl.start], target.language)
    same = before is not None and before == context_tokens(new[:at], target.language)
    return Relocated(at - decl.start, same)


def reanchor(edit: TextEdit, target: Target, old: str, new: str, *, same_context_only: bool = True) -> TextEdit | None:
    """`edit` (made for `old`) moved onto `new`, or None when its declaration cannot be found there
    unchanged, or (with `same_context_only`) when the text before it reads differently to the prover."""
    where = relocate(target, old, new)
    if where is None or (same_context_only and not where.same_context):
        return None
    return TextEdit(edit.start + where.shift, edit.end + where.shift, edit.new_text)




@dataclass(frozen=True)
class Found:
    """The target again, in the new text, and whether its proof still holds without a new check."""

    target: Target
    unchanged: bool  # same declaration text, and the prover reads everything before it as before


def find_again(target: Target, old: str, new: str) -> Found | None:
    """`target` (a `sorry` of `old`) in `new`: at the same place in its declaration if that declaration
    is unchanged; otherwise the same-numbered `sorry` of the declaration with the same name (its proof
    must then be checked again). None when neither is there."""
    try:
        located = locate(new, target.language)
    except Exception:  # the new text cannot be scanned (an unterminated comment being typed)
        return None
    where = relocate(target, old, new)
    if where is not None:
        again = located.target_at(target.start + where.shift)
        if again is not None and again.start == target.start + where.shift:
            return Found(again, where.same_context)
    decl = target.declaration
    if decl is None or decl.name is None:
        return None
    try:
        old_targets = [t for t in locate(old, target.language).targets
                       if t.declaration is not None and t.declaration.start == decl.start]
    except Exception:
        return None
    index = next((k for k, t in enumerate(old_targets) if t.start == target.start), None)
    decls = [d for d in located.declarations if d.display_name == decl.display_name]
    if index is None or len(decls) != 1:
        return None
    new_targets = [t for t in located.targets if t.declaration == decls[0]]
    if len(new_targets) != len(old_targets):
        return None
    return Found(new_targets[index], False)


__all__ = ["Found", "Relocated", "find_again", "reanchor", "relocate"]
