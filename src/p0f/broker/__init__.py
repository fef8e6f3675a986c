"""``p0f-broker``: one connection to p0f for any number of clients.

p0f serves at most ``-S`` API connections (20 by default) and leaves the
next client waiting, unanswered, in its listen backlog.  The broker listens
on a socket of its own, speaks p0f's protocol there (so every existing
client works unchanged), and carries all its clients' queries over at most
a few connections to p0f, routing each answer back to the client that asked,
in that client's order.  Run it as ``p0f-broker -s P0F_SOCKET -l
LISTEN_SOCKET`` or ``python -m p0f.broker``; see the README for the options.
"""

from __future__ import annotations

from ._cli import main
from ._server import BAD_QUERY_ANSWER, Broker, BrokerConfig, BrokerError
from ._stats import Stats

__all__ = ["BAD_QUERY_ANSWER", "Broker", "BrokerConfig", "BrokerError", "Stats", "main"]
