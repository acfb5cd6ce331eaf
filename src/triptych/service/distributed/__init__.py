"""Distributed execution on Celery (``TRIPTYCH_BROKER_URL``).

The database stays authoritative for jobs and money: a message only says "job X may be
run". ``celery_app`` configures Celery, ``publisher`` hands committed jobs to the broker
(the API side), ``tasks`` runs them through ``JobService.run_job`` (the worker side), and
``worker`` starts a worker for the catalog models an operator names.
"""
