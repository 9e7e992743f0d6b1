"""The sandbox boundary's vocabulary, shared by both sides.

The grader imports it as ``grader.sandbox.protocol``; inside the sandbox the runner imports the
same files as the top-level package ``protocol`` (mounted read-only beside it). So every
module here imports only the standard library, torch and safetensors (torch lazily where
the grader must not pay for it) and reaches its siblings by relative imports.

- ``layout``: the job folder's names and the typed job and schedule.
- ``values``: the tagged values that cross the boundary, one class per tag.
- ``mlp``: the network the grader hands to student code.
- ``reading``: the grader's readers for what a sandbox wrote (hostile bytes).
"""
