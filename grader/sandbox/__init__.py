"""Running untrusted code: worker processes under bubblewrap (or a confined fallback),
and the boundary both sides share.

Grader side (trusted):
- ``choice``: the sandbox kinds, ``choose``, ``WorkerLimits`` and ``JobEnd``.
- ``pool``: the worker pool (``Pool``; ``make_pool`` for a course).
- ``bwrap``: the bubblewrap command line. ``cgroups``: memory and process limits.
- ``confine``: the root fallback's users. ``cleanup``: removing what jobs left.
- ``diagnosis``, ``platforms``: why a sandbox cannot start, and on what platform.

``protocol/``: the boundary's vocabulary (job layout, tagged values, the readers).
``inside/``: the only code that runs in the sandbox (``runner.py``, ``jobns.py``).

The grader side may import the standard library, ``grader.terminal``, ``grader.errors``
and ``protocol``; no trusted module imports ``inside`` (``pool`` runs it as a file).
``protocol`` imports nothing of grader; ``inside`` only the standard library, torch,
safetensors, IPython and ``protocol`` (mounted beside it as a top-level package).
"""
