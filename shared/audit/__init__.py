"""The shared audit log: per-ward RFC 6962 Merkle logs with signed checkpoints.

Modules: ``merkle`` (hashing, proofs), ``compact`` (incremental tree), ``store`` and ``sql``
(storage), ``leaf`` (leaf encoding), ``log`` (appending and proving), ``note`` and ``checkpoint``
(signed checkpoints), ``export`` and ``verify`` (offline verification).

This package imports nothing at import time so that verification workers start quickly.
"""
