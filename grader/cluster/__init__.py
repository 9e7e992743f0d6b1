"""Grading on a Dask cluster (``grader grade --cluster``), an optional extra.

- ``config``: what ``--cluster`` names (a scheduler's address, ``local:N``, a YAML
  file for dask-jobqueue) and the Dask client for it.
- ``client``: runs where ``grader grade`` runs: sends each submission to the cluster as
  plain data, gets each result back as JSON, counts jobs re-run after a worker died.
- ``worker``: runs on a Dask worker: grades a submission with the same Grader, sandbox
  and worker pool as a local run. It needs no Dask itself.

Nothing here is imported unless ``--cluster`` is given: a plain install has no Dask.
May import: ``grader.grading`` (the same Grader), ``course``, ``submissions``,
``sandbox`` (not ``inside``), ``results``, ``errors``; Dask only lazily. Not ``cli``.
"""
