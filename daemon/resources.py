"""Where the shipped files are: templates/ and config/ of the checkout, or their copies inside an installed package."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_INSTALLED = {"templates": "templates", "config": "config_examples"}


def resource_dir(name: str) -> Path:
    """`templates` or `config`: the checkout's folder when running from one, else the installed copy."""
    checkout = _HERE.parent / name
    if checkout.is_dir():
        return checkout
    return _HERE / _INSTALLED[name]
