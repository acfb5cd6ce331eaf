"""The service layer: jobs, ledger, store, compare, recommend, safety. Every image goes through
``jobs.JobService`` so credits, safety, storage and history always apply."""
