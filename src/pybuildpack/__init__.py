"""pybuildpack: pick, install and build with the right Python runtime.

Layers (see README "Architecture"):

* pure core: ``version``, ``version_files``, ``requests``, ``catalog``, ``resolve``,
  ``requires_python`` — parse and decide, no I/O beyond reading the files handed in;
* provisioning: ``provision`` package — fetch, verify, extract, cache, install;
* interfaces: ``cli``, ``buildpack`` package (classic ``bin/compile`` and CNB ``bin/build``).

Every failure is a typed error (``errors``) rendered to words in one place (``messages``).
"""

__version__ = "0.1.0"
