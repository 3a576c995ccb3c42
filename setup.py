"""Build the optional C extension (`meterlocal.extract._native`); everything else is in pyproject.toml.

The extension reads lxml's element nodes directly, so it compiles against the lxml headers of the build
environment. It is optional: without a C compiler the build warns, and meterlocal runs its pure-Python path
(`from meterlocal.extract import native_available` says which one is in use).
"""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

native = Extension(
    "meterlocal.extract._native", ["src/meterlocal/extract/_native.pyx"], include_dirs=lxml.get_include()
)
extensions = cythonize([native], compiler_directives={"language_level": "3"}, quiet=True)
for extension in extensions:
    extension.optional = True  # a failed C compile warns instead of failing the install (cythonize drops the flag)

setup(ext_modules=extensions)
