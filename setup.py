"""The native core (heap/) is compiled by cffi into artgc._native at install;
artgc's signal chain (heap/sigchain), a library to preload, into
artgc/_sigchain*.so (a plain shared library: nothing imports it)."""
from setuptools import Extension, setup

sigchain = Extension("artgc._sigchain", sources=["heap/sigchain/sigchain.c"],
                     extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra"], libraries=["dl"])

setup(cffi_modules=["artgc/_build.py:ffibuilder"], ext_modules=[sigchain])
