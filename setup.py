"""Only the native part of the build; everything else about the package is in pyproject.toml.

The ledger's Merkle hashing is a small C extension over OpenSSL's SHA-256 (decision 0031); it needs
gcc, the Python headers and libssl-dev, which scripts/system-packages.sh installs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "custody.engines.ledger._native",
            sources=["custody/engines/ledger/_native.c"],
            libraries=["crypto", "pthread"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
