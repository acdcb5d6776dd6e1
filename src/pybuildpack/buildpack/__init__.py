"""pybuildpack as a buildpack: the classic (cedar) and Cloud Native Buildpack (fir) interfaces.

One module per concern:

* ``classic``      - bin/detect, bin/compile, bin/release, bin/report (Heroku-style platforms)
* ``cnb``          - bin/detect and bin/build for the CNB lifecycle (Buildpack API 0.10)
* ``build_cache``  - cedar cache: metadata, sticky version, invalidation reasons, atomic save
* ``layers/``      - CNB layers (python runtime, pip, dependencies)
* ``runtime``      - installing a runtime through the provisioning layer
* ``deps``         - package managers: detection, tool install, dependency install
* ``env``          - profile.d, export file and CNB env files
* ``checks``       - pre-build checks (stack, duplicate buildpack, committed venvs, env)
* ``build_data``   - the build report store read by bin/report
* ``log``          - the build log style
"""
