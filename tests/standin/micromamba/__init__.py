"""A stand-in for the micromamba 2.x executable, for tests that have no internet.

It follows /work/shared/reference/micromamba-contract.md (flags, exit codes, messages, files
written) closely enough that a bootstrapper tested against it behaves the same against the
real binary. Stdlib only. Tests get it as one executable file: a zipapp of this package with
a ``#!<python> -I`` line and a baked ``config.json`` (``tests.standin.fixtures.standin_source``).

Modules by concern: ``cli`` (parser, commands, help), ``config`` (root prefix, rc files),
``specs`` (versions, MatchSpec, YAML, spec files), ``solve``, ``channels`` (network,
repodata), ``pkgcache``, ``link``, ``create``, ``install`` (install, remove), ``export``
(env export, list, info), ``activation``, ``shell``, ``run``, ``main`` (dispatch,
recorder); ``common`` holds the config, errors and output helpers.

CONFIG keys: ``version``, ``pythons`` ({"3.11": "/abs/python3.11"}), ``record_file``,
``delay_create_s``, ``fail_create``, ``bash``, ``retry_wait_s``, ``http_timeout_s``.
"""
