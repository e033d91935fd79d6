"""`make bench`: performance at the scale of a clinic network, each figure beside a floor (bench/run.py)."""
