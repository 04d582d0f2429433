"""The native core (heap/) is compiled by cffi into artgc._native at install."""
from setuptools import setup

setup(cffi_modules=["artgc/_build.py:ffibuilder"])
