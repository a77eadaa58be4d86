"""Local Kafka and Elasticsearch on loopback (``newsstream services``) and the demo.

Not part of the pipeline: nothing under ``streams`` but the CLI imports this package.
"""
