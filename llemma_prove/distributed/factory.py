"""How a remote worker builds its prover and proposer: a picklable reference to a factory function.

Provers and models hold processes, sockets and GPU memory, so they cannot be shipped to another
machine; what travels is `ComponentFactory`, the import path of a function and its (picklable)
arguments. Each worker calls it once and gets `(prover, proposer)` back, built where it will run.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import UserError
from ..interfaces import Proposer, Prover


class FactoryError(UserError):
    """The factory named for the workers cannot be imported or does not return (prover, proposer)."""


@dataclass(frozen=True)
class ComponentFactory:
    """`target` is "package.module:function"; it is called as `function(*args, **kwargs)`."""

    target: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        module, sep, name = self.target.partition(":")
        if not sep or not module or not name:
            raise FactoryError(f"factory {self.target!r} must be written as package.module:function")

    def resolve(self) -> Callable[..., Any]:
        module_name, _, name = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise FactoryError(f"factory module {module_name!r} cannot be imported on this node: {exc}") from None
        function = getattr(module, name, None)
        if not callable(function):
            raise FactoryError(f"{module_name} has no function {name!r}")
        return function

    def build(self) -> tuple[Prover, Proposer]:
        built = self.resolve()(*self.args, **self.kwargs)
        if not (isinstance(built, tuple) and len(built) == 2):
            raise FactoryError(f"factory {self.target} must return (prover, proposer), got {type(built).__name__}")
        return built
