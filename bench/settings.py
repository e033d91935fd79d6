"""The product's settings, plus the floor views the benchmark compares every figure with (bench/urls.py).
Only the benchmark uses this module; the product's URLs never include the floor."""

from clinic.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
