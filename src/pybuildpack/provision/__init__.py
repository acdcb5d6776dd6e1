"""Provisioning: fetch, verify, extract, cache and install a CPython runtime.

``api.install_python`` is the entry point; one module per concern: ``sources`` (where an
archive is, from the data in ``data/downloads.json``), ``download`` (streams, retries),
``extract`` (safe streaming extraction), ``cache`` (shared download cache with a lock),
``relocate`` (make the runtime work where it landed, and prove it).
"""
