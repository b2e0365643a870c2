"""A minimal Channels relay without persistence: the baseline `make bench` measures the
server against (bench/standard.py). Never part of the application."""
