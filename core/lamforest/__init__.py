"""lamforest: serverless distributed decision forests.

A forest is fitted as many small groves (a few trees, each with its own seed)
in parallel on AWS Lambda or local worker processes, kept in a store (S3 or
a folder), and merged into one ordinary scikit-learn estimator.
"""

__version__ = "0.1.0"
