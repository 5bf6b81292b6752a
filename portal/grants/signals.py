"""Events of the grants domain that other domains react to, without grants importing them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A final report's learning was made public (sender: the ``ProgressReport``; keyword ``by``:
#: the ``User``). The learning domain answers with the learning post it shares it as.
final_learning_published = _signals.signal("final-learning-published")
