"""The shared audit log: per-ward RFC 6962 Merkle logs with signed checkpoints.

Modules: ``merkle`` (hashing, proofs), ``compact`` (incremental tree), ``store`` and ``sql``
(storage), ``canonical`` and ``leaf`` (leaf encoding), ``log`` (appending and proving), ``note``
and ``checkpoint`` (signed checkpoints), ``export`` and ``verify`` (offline verification, with
``completeness``, and ``diagnose``, ``difference`` and ``window`` locating a change).
The service: ``app`` (bootstrap), ``projection`` (the worker), ``keys``, ``api`` and ``queries``.
Auditing tools: ``sources`` (database or export), ``replay``, ``digest`` and ``live``.

This package imports nothing at import time so that verification workers start quickly.
"""
