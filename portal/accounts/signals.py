"""Events of the accounts package that the domains above it react to, without accounts importing them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A person changed the name on their account (sender: the ``User``, already renamed; keyword
#: ``old_name``). Domains that copied the name or put it in the search index (bylines) answer,
#: in the same transaction, so the old name stops finding anything the moment the change is saved.
renamed = _signals.signal("account-renamed")
