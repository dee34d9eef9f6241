"""Frozen, slotted event instances filled without their ``__init__``: a decoder's shortcut.

A generated decoder (``compiled``) builds an event by setting each slot of an instance of
a writable subclass and then making it an instance of the event class itself.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any

__all__ = ["writable_subclass"]


def writable_subclass(cls: Callable[..., Any], names: list[str]) -> type | None:
    """A subclass of the slotted class ``cls`` whose instances can be written, or None.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
    slower still than calling each slot descriptor's ``__set__``, which took a fifth of a
    decode. The subclass adds no slot and restores plain attribute setting, which the
    interpreter specialises into direct slot stores; assigning ``__class__`` (CPython
    allows it between classes of one layout) then makes the filled instance a ``cls``.
    Nothing sees it before: the result is an ordinary, frozen ``cls``, equal, hashed and
    printed as one built by ``__init__``.
    """
    if not isinstance(cls, type) or type(cls) is not type or cls.__new__ is not object.__new__:
        return None  # a metaclass or __new__ could run code of the class
    if any("__init_subclass__" in vars(base) for base in cls.__mro__[:-1]):
        return None  # making the subclass would run code of the class
    if not all(isinstance(getattr(cls, name, None), MemberDescriptorType) for name in names):
        return None
    filling = type(
        f"{cls.__name__}Filling",
        (cls,),
        {
            "__slots__": (),
            "__module__": cls.__module__,
            # Both, or the interpreter would still call a Python-level __setattr__.
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            # Calling the class is then cheaper than object.__new__(filling).
            "__init__": object.__init__,
        },
    )
    try:
        probe = filling()
        probe.__class__ = cls
    except TypeError:
        return None
    return filling
