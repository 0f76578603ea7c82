"""Processing graphs in the original ingester's JSON format: loading (``graphs.loader``), running
(``graphs.execute``, ``graphs.engines``), contexts (``graphs.context``) and the built-ins' code.

No Prefect here. The package imports nothing itself: a graph script (``graphs/python/*.py``) runs in a
process of its own and imports only what it uses (a step's start-up is paid per tile).
"""
