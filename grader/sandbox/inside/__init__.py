"""The only code that runs inside the sandbox: ``runner.py`` (the worker that imports and
runs student code) and ``jobns.py`` (each job's namespaces and syscall filter).

They run as scripts, from a read-only mount beside ``protocol/`` (bwrap.py's
``/opt/torch-grader``) or from the root fallback's copy (pool.py's ``SANDBOX_CODE``).
May import: the standard library, torch, safetensors, IPython and ``protocol``. Nothing
trusted imports them.
"""
